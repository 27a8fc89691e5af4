func.func @parameter_empty_name() {
  %w = dsv3.parameter "" : tensor<4xf32>
  return
}
