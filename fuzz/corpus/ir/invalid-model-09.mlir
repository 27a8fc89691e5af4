func.func @mlp_intermediate_huge(%x: tensor<4x8xbf16>) {
  %y = dsv3.mlp %x prefix("m") intermediate_size(281474976710656) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}
