func.func @gate_factor(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) routed_scaling_factor(0.0) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}
