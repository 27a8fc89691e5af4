func.func @merge_rank0(%o: tensor<f32>, %l: tensor<f32>) {
  %r, %s = dsv3.attention_merge %o, %l, %o, %l : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32> -> tensor<f32>, tensor<f32>
  return
}
