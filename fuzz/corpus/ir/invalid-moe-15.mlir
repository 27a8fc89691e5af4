func.func @bias_update_dynamic(%ids: tensor<?x2xi32>, %b: tensor<?xf32>) {
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<?x2xi32>, tensor<?xf32>) -> tensor<?xf32>
  return
}
