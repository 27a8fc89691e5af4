func.func @quantize_dynamic(%x: tensor<4x?xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x?xf32> -> tensor<4x?xf8E4M3FN>, tensor<4x1xf32>
  return
}
