func.func @rms_norm_rank0(%x: tensor<f32>, %w: tensor<1xf32>) {
  %y = dsv3.rms_norm %x, %w : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}
