func.func @gmm_rank(%a: tensor<8x64xf32>, %w: tensor<4x64xf32>, %o: tensor<5xi64>) {
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x64xf32>, tensor<5xi64>) -> tensor<8x4xf32>
  return
}
