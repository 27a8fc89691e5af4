func.func @latent_attention(%qn: tensor<1x2x2x16xbf16>, %qp: tensor<1x2x2x8xbf16>, %c: tensor<1x5x16xbf16>, %k: tensor<1x5x8xbf16>, %sp: tensor<1xi64>, %kl: tensor<1xi64>) -> tensor<1x2x2x16xbf16> {
  %o = dsv3.latent_attention %qn, %qp, %c, %k, %sp, %kl scale(0.1352338) : tensor<1x2x2x16xbf16>, tensor<1x2x2x8xbf16>, tensor<1x5x16xbf16>, tensor<1x5x8xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x2x16xbf16>
  return %o : tensor<1x2x2x16xbf16>
}
