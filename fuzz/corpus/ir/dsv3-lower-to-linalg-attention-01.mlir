func.func @rope_half(%x: tensor<2x3x8xf32>, %p: tensor<2x3xi32>) -> tensor<2x3x8xf32> {
  %y = dsv3.rope %x at %p layout(half) : (tensor<2x3x8xf32>, tensor<2x3xi32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}
