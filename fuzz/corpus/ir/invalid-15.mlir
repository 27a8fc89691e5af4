func.func @dequantize_dynamic(%q: tensor<?x256xf8E4M3FN>, %s: tensor<2x2xf32>) {
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<?x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<?x256xbf16>
  return
}
