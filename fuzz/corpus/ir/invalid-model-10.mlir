func.func @mlp_input_huge(%x: tensor<16777217x16777216xbf16>) {
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(bf16) : tensor<16777217x16777216xbf16> -> tensor<16777217x16777216xbf16>
  return
}
