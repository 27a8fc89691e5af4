// Input of attention-merge.test: merges a strided view of a padded buffer.
func.func @merge(%o1p: tensor<2x3xf32>, %lse1: tensor<2xf32>, %o2: tensor<2x2xf32>, %lse2: tensor<2xf32>) -> (tensor<2x2xf32>, tensor<2xf32>) {
  %o1 = tensor.extract_slice %o1p[0, 0] [2, 2] [1, 1] : tensor<2x3xf32> to tensor<2x2xf32>
  %o, %lse = dsv3.attention_merge %o1, %lse1, %o2, %lse2 : tensor<2x2xf32>, tensor<2xf32>, tensor<2x2xf32>, tensor<2xf32> -> tensor<2x2xf32>, tensor<2xf32>
  return %o, %lse : tensor<2x2xf32>, tensor<2xf32>
}
