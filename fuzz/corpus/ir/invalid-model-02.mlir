func.func @embedding_result(%t: tensor<256x8xbf16>, %ids: tensor<1x4xi64>) {
  %h = dsv3.embedding %t[%ids] : (tensor<256x8xbf16>, tensor<1x4xi64>) -> tensor<4x8xbf16>
  return
}
