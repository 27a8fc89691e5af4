func.func @gmm_missing_scale(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf8E4M3FN>, %o: tensor<5xi64>) {
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x8x64xf8E4M3FN>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}
