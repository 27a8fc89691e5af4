func.func @parameter_stacked_twice() {
  %w = dsv3.parameter "experts.{e}.{e}.weight" stacked : tensor<4x8x8xf32>
  return
}
