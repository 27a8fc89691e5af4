func.func @linear_act_quant_bf16_weight(%x: tensor<4x128xf32>, %w: tensor<8x128xbf16>) {
  %y = dsv3.linear %x, %w act_quant(fp8_1x128) : (tensor<4x128xf32>, tensor<8x128xbf16>) -> tensor<4x8xf32>
  return
}
