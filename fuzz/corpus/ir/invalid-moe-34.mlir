func.func @combine_dynamic(%r: tensor<?x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %o: tensor<?xi64>) {
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<?x4xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<?xi64>) -> tensor<4x4xf32>
  return
}
