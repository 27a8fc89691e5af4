func.func @quantize_ue8m0(%x: tensor<256x256xf32>) -> (tensor<256x256xf8E4M3FN>, tensor<2x2xf8E8M0FNU>) {
  %q, %s = dsv3.quantize %x block [128, 128] scale_fmt(ue8m0) : tensor<256x256xf32> -> tensor<256x256xf8E4M3FN>, tensor<2x2xf8E8M0FNU>
  return %q, %s : tensor<256x256xf8E4M3FN>, tensor<2x2xf8E8M0FNU>
}
