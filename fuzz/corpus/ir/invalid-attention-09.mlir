func.func @rope_orig(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(-1) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}
