func.func @quantize_partial_block(%x: tensor<2x200xbf16>) -> (tensor<2x200xf8E4M3FN>, tensor<2x2xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<2x200xbf16> -> tensor<2x200xf8E4M3FN>, tensor<2x2xf32>
  return %q, %s : tensor<2x200xf8E4M3FN>, tensor<2x2xf32>
}
