func.func @rope_dynamic(%x: tensor<4x?xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p  : (tensor<4x?xf32>, tensor<4xi64>) -> tensor<4x?xf32>
  return
}
