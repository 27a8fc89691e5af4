func.func @quantize_block_positive(%x: tensor<4x128xf32>) {
  %q, %s = dsv3.quantize %x block [0, 128] : tensor<4x128xf32> -> tensor<4x128xf8E4M3FN>, tensor<4x1xf32>
  return
}
