func.func @linear_fp8_needs_scale(%x: tensor<4x128xf32>, %w: tensor<8x128xf8E4M3FN>) {
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x128xf8E4M3FN>) -> tensor<4x8xf32>
  return
}
