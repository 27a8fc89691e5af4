func.func @mlp_prefix(%x: tensor<4x8xbf16>) {
  %y = dsv3.mlp %x prefix("model.layers.0.mlp.") intermediate_size(16) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}
