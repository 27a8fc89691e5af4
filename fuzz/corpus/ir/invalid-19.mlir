func.func @linear_result(%x: tensor<4x128xf32>, %w: tensor<8x128xf32>) {
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x128xf32>) -> tensor<8x4xf32>
  return
}
