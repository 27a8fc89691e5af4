func.func @embedding_dynamic(%t: tensor<?x8xbf16>, %ids: tensor<1x?xi64>) {
  %h = dsv3.embedding %t[%ids] : (tensor<?x8xbf16>, tensor<1x?xi64>) -> tensor<1x?x8xbf16>
  return
}
