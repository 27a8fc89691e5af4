func.func @linear_k(%x: tensor<4x128xf32>, %w: tensor<8x256xf32>) {
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x256xf32>) -> tensor<4x8xf32>
  return
}
