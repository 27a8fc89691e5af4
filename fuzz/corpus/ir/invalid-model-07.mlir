func.func @mlp_weight_type(%x: tensor<4x8xbf16>) {
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(i8) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}
