func.func @gate_top_k_positive(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(0) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x0xf32>, tensor<4x0xi32>
  return
}
