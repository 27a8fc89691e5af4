func.func @linear_scale_on_bf16(%x: tensor<4x128xf32>, %w: tensor<8x128xbf16>, %s: tensor<1x1xf32>) {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<4x128xf32>, tensor<8x128xbf16>) -> tensor<4x8xf32>
  return
}
