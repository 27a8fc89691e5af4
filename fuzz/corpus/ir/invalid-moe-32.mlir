func.func @gmm_scale_shape(%a: tensor<8x200xf32>, %w: tensor<4x8x200xf8E4M3FN>, %o: tensor<5xi64>, %s: tensor<4x1x1xf32>) {
  %d = dsv3.grouped_matmul %a, %w, %o weight_scale_inv(%s : tensor<4x1x1xf32>) : (tensor<8x200xf32>, tensor<4x8x200xf8E4M3FN>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}
