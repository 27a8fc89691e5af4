func.func @prefill(%q: tensor<1x32x4x16xf32>, %qp: tensor<1x32x4x8xf32>, %c: tensor<1x4096x16xf32>, %k: tensor<1x4096x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x32x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x32x4x16xf32>, tensor<1x32x4x8xf32>, tensor<1x4096x16xf32>, tensor<1x4096x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x32x4x16xf32>
  return %o : tensor<1x32x4x16xf32>
}
func.func @short(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x300x16xf32>, %k: tensor<1x300x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x300x16xf32>, tensor<1x300x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>
  return %o : tensor<1x1x4x16xf32>
}
