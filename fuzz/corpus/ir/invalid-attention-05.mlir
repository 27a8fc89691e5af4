func.func @rope_theta(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p theta(1.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}
