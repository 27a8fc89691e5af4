func.func @quantize_scale_shape(%x: tensor<576x7168xf32>) {
  %q, %s = dsv3.quantize %x block [128, 128] : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<4x56xf32>
  return
}
