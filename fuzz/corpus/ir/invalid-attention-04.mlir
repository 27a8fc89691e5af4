func.func @rope_result(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p  : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x32xf32>
  return
}
