func.func @moe_gate_v2(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(group_limited_greedy) top_k(3) n_group(4) topk_group(2) routed_scaling_factor(16.0) : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x3xf32>, tensor<2x3xi32>
  return %wt, %ids : tensor<2x3xf32>, tensor<2x3xi32>
}
func.func @moe_gate_greedy(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(3) : (tensor<2x8xf32>, tensor<16x8xf32>) -> tensor<2x3xf32>, tensor<2x3xi32>
  return %wt, %ids : tensor<2x3xf32>, tensor<2x3xi32>
}
