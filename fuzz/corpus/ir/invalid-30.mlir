func.func @rms_norm_eps(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  %y = dsv3.rms_norm %x, %w eps(0.0) : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return
}
