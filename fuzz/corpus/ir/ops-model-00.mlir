func.func @embedding(%t: tensor<256x160xbf16>, %ids: tensor<1x4xi64>) -> tensor<1x4x160xf32> {
  %h = dsv3.embedding %t[%ids] : (tensor<256x160xbf16>, tensor<1x4xi64>) -> tensor<1x4x160xf32>
  return %h : tensor<1x4x160xf32>
}
func.func @mlp(%x: tensor<4x160xbf16>) -> tensor<4x160xbf16> {
  %y = dsv3.mlp %x prefix("model.layers.0.mlp") intermediate_size(224) weight_type(f8E4M3FN) : tensor<4x160xbf16> -> tensor<4x160xbf16>
  return %y : tensor<4x160xbf16>
}
