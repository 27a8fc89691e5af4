func.func @rope_positions_rank(%x: tensor<1x2x4x64xf32>, %p: tensor<1x2x4xi64>) {
  %y = dsv3.rope %x at %p  : (tensor<1x2x4x64xf32>, tensor<1x2x4xi64>) -> tensor<1x2x4x64xf32>
  return
}
