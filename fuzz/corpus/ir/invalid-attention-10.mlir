func.func @rope_beta(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(4096) beta_slow(0.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}
