// Input of dsv3-run-npy.test: y = -x on bf16.
func.func @neg(%x: tensor<2x3xbf16>) -> tensor<2x3xbf16> {
  %init = tensor.empty() : tensor<2x3xbf16>
  %y = linalg.negf ins(%x : tensor<2x3xbf16>) outs(%init : tensor<2x3xbf16>) -> tensor<2x3xbf16>
  return %y : tensor<2x3xbf16>
}
