func.func @gmm_dynamic(%a: tensor<?x64xf32>, %w: tensor<4x?x64xf32>, %o: tensor<5xi64>) {
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<?x64xf32>, tensor<4x?x64xf32>, tensor<5xi64>) -> tensor<?x?xf32>
  return
}
