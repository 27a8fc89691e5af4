func.func @rope_yarn_keys(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  %y = dsv3.rope %x at %p beta_fast(32.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}
