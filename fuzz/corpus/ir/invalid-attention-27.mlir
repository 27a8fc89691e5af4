func.func @merge_dynamic(%o: tensor<3x?xf32>, %l: tensor<3xf32>) {
  %r, %s = dsv3.attention_merge %o, %l, %o, %l : tensor<3x?xf32>, tensor<3xf32>, tensor<3x?xf32>, tensor<3xf32> -> tensor<3x?xf32>, tensor<3xf32>
  return
}
