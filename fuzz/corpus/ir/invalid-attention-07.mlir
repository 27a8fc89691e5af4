func.func @rope_factor(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p factor(-4.0) original_max_position_embeddings(4096) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}
