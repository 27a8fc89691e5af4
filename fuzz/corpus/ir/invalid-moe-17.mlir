func.func @bias_update_gamma(%ids: tensor<4x2xi32>, %b: tensor<4xf32>) {
  %nb = dsv3.expert_bias_update %ids, %b gamma(-1.0e-03) : (tensor<4x2xi32>, tensor<4xf32>) -> tensor<4xf32>
  return
}
