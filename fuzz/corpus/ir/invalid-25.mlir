func.func @linear_result_type(%x: tensor<4x128xf32>, %w: tensor<8x128xf32>) {
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x128xf32>) -> tensor<4x8xf16>
  return
}
