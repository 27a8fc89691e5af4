func.func @rope_shape(%x: tensor<4x2x64xf32>, %p: tensor<2x4xi64>) {
  %y = dsv3.rope %x at %p  : (tensor<4x2x64xf32>, tensor<2x4xi64>) -> tensor<4x2x64xf32>
  return
}
