func.func @embedding_table_rank(%t: tensor<256xbf16>, %ids: tensor<4xi64>) {
  %h = dsv3.embedding %t[%ids] : (tensor<256xbf16>, tensor<4xi64>) -> tensor<4x1xbf16>
  return
}
