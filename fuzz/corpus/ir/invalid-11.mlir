func.func @quantize_e8m0_needs_ue8m0(%x: tensor<4x128xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x128xf32> -> tensor<4x128xf8E4M3FN>, tensor<4x1xf8E8M0FNU>
  return
}
