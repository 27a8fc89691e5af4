func.func @rms_norm_weight(%x: tensor<4x64xf32>, %w: tensor<32xf32>) {
  %y = dsv3.rms_norm %x, %w : (tensor<4x64xf32>, tensor<32xf32>) -> tensor<4x64xf32>
  return
}
