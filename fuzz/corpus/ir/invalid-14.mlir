func.func @dequantize_output_shape(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x2xf32>) {
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<256x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x128xbf16>
  return
}
