func.func @attention_result(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x8xf32>
  return
}
