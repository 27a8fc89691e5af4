func.func @combine_result(%r: tensor<8x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %o: tensor<5xi64>) {
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<8x4xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<5xi64>) -> tensor<4x8xf32>
  return
}
