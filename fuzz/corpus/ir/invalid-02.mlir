func.func @parameter_stacked_no_placeholder() {
  %w = dsv3.parameter "experts.gate_proj.weight" stacked : tensor<4x8x8xf32>
  return
}
