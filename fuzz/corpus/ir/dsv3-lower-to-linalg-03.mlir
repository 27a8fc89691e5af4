func.func @linear_weight_only(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xbf16> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xbf16>
  return %y : tensor<4x576xbf16>
}
