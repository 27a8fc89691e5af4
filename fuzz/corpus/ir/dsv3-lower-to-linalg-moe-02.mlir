func.func @expert_bias_update(%ids: tensor<4x8xi32>, %b: tensor<16xf32>) -> tensor<16xf32> {
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<4x8xi32>, tensor<16xf32>) -> tensor<16xf32>
  return %nb : tensor<16xf32>
}
