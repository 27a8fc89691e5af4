func.func @embedding(%t: tensor<256x160xbf16>, %ids: tensor<1x4xi64>) -> tensor<1x4x160xf32> {
  %h = dsv3.embedding %t[%ids] : (tensor<256x160xbf16>, tensor<1x4xi64>) -> tensor<1x4x160xf32>
  return %h : tensor<1x4x160xf32>
}
