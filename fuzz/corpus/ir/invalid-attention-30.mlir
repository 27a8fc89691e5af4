func.func @merge_out(%o: tensor<2x4xf32>, %l: tensor<2xf32>) {
  %r, %s = dsv3.attention_merge %o, %l, %o, %l : tensor<2x4xf32>, tensor<2xf32>, tensor<2x4xf32>, tensor<2xf32> -> tensor<4x2xf32>, tensor<2xf32>
  return
}
