func.func @gate_bias_shape(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<4xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<4xf32>) scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}
