func.func @mlp_rank(%x: tensor<1x4x8xbf16>) {
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(bf16) : tensor<1x4x8xbf16> -> tensor<1x4x8xbf16>
  return
}
