func.func @gmm_extra_scale(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf32>, %o: tensor<5xi64>, %s: tensor<4x1x1xf32>) {
  %d = dsv3.grouped_matmul %a, %w, %o weight_scale_inv(%s : tensor<4x1x1xf32>) : (tensor<8x64xf32>, tensor<4x8x64xf32>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}
