func.func @merge_lse(%o: tensor<2x4xf32>, %l: tensor<2xf32>, %l2: tensor<2x4xf32>) {
  %r, %s = dsv3.attention_merge %o, %l, %o, %l2 : tensor<2x4xf32>, tensor<2xf32>, tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>, tensor<2xf32>
  return
}
