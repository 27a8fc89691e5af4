func.func @linear_act_quant(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) act_quant(fp8_1x128) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  return %y : tensor<4x576xf32>
}
