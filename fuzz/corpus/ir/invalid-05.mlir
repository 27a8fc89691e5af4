func.func @parameter_placeholder_unstacked() {
  %w = dsv3.parameter "experts.{e}.weight" : tensor<8x8xf32>
  return
}
