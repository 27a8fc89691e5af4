func.func @parameter_dynamic() {
  %w = dsv3.parameter "w" : tensor<?xf32>
  return
}
