func.func @linear_bf16(%x: tensor<4x64xbf16>, %w: tensor<8x64xbf16>) -> tensor<4x8xf32> {
  %y = dsv3.linear %x, %w : (tensor<4x64xbf16>, tensor<8x64xbf16>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
