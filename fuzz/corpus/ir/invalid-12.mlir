func.func @quantize_bad_output_type(%x: tensor<4x128xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x128xf32> -> tensor<4x128xbf16>, tensor<4x1xf32>
  return
}
