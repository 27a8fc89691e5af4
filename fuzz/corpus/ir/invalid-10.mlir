func.func @quantize_output_shape(%x: tensor<4x128xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x128xf32> -> tensor<4x256xf8E4M3FN>, tensor<4x1xf32>
  return
}
