func.func @parameter_stacked_rank0() {
  %w = dsv3.parameter "experts.{e}.bias" stacked : tensor<f32>
  return
}
