func.func @gmm_offsets(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf32>, %o: tensor<4xi64>) {
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x8x64xf32>, tensor<4xi64>) -> tensor<8x8xf32>
  return
}
