func.func @linear_scale_shape(%x: tensor<4x7168xbf16>, %w: tensor<576x7168xf8E4M3FN>, %s: tensor<4x56xf32>) {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<4x56xf32>) : (tensor<4x7168xbf16>, tensor<576x7168xf8E4M3FN>) -> tensor<4x576xf32>
  return
}
