func.func @mlp_intermediate(%x: tensor<4x8xbf16>) {
  %y = dsv3.mlp %x prefix("m") intermediate_size(0) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}
