func.func @gate_rank(%x: tensor<4xf32>, %w: tensor<8x4xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4xf32>, tensor<8x4xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}
