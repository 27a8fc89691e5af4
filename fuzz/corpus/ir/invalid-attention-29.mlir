func.func @merge_o2(%o: tensor<2x4xf32>, %o2: tensor<2x8xf32>, %l: tensor<2xf32>) {
  %r, %s = dsv3.attention_merge %o, %l, %o2, %l : tensor<2x4xf32>, tensor<2xf32>, tensor<2x8xf32>, tensor<2xf32> -> tensor<2x4xf32>, tensor<2xf32>
  return
}
