func.func @attention_merge(%o1: tensor<2x2xf32>, %l1: tensor<2xf32>, %o2: tensor<2x2xf32>, %l2: tensor<2xf32>) -> (tensor<2x2xbf16>, tensor<2xf32>) {
  %o, %l = dsv3.attention_merge %o1, %l1, %o2, %l2 : tensor<2x2xf32>, tensor<2xf32>, tensor<2x2xf32>, tensor<2xf32> -> tensor<2x2xbf16>, tensor<2xf32>
  return %o, %l : tensor<2x2xbf16>, tensor<2xf32>
}
