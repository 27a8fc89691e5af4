func.func @rope_interleaved(%x: tensor<3x2x8xbf16>, %p: tensor<3xi64>) -> tensor<3x2x8xbf16> {
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(4096) mscale(1.0) mscale_all_dim(1.0) : (tensor<3x2x8xbf16>, tensor<3xi64>) -> tensor<3x2x8xbf16>
  return %y : tensor<3x2x8xbf16>
}
