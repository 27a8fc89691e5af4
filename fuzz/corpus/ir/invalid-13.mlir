func.func @dequantize_scale_shape(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x3xf32>) {
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<256x256xf8E4M3FN>, tensor<2x3xf32> -> tensor<256x256xbf16>
  return
}
