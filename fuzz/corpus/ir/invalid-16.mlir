func.func @linear_rank(%x: tensor<4x2x128xf32>, %w: tensor<8x128xf32>) {
  %y = dsv3.linear %x, %w : (tensor<4x2x128xf32>, tensor<8x128xf32>) -> tensor<4x8xf32>
  return
}
