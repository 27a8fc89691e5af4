func.func @dequantize(%q: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<576x256xbf16> {
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<576x256xf8E4M3FN>, tensor<5x2xf32> -> tensor<576x256xbf16>
  return %w : tensor<576x256xbf16>
}
