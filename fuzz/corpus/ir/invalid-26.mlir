func.func @rms_norm_dynamic(%x: tensor<4x?xf32>, %w: tensor<64xf32>) {
  %y = dsv3.rms_norm %x, %w : (tensor<4x?xf32>, tensor<64xf32>) -> tensor<4x?xf32>
  return
}
