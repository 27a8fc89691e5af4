func.func @rope_attention_factor(%x: tensor<2x4x8xf32>, %p: tensor<2xi64>) -> tensor<2x4x8xf32> {
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(4096) mscale(1.0) mscale_all_dim(0.707) : (tensor<2x4x8xf32>, tensor<2xi64>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}
