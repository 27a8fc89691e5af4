func.func @gate_greedy_groups(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(2) n_group(2) topk_group(2) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}
