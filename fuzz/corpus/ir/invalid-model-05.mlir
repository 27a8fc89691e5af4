func.func @mlp_result(%x: tensor<4x8xbf16>) {
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x16xbf16>
  return
}
