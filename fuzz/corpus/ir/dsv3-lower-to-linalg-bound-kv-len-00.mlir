func.func @latent_attention(%qn: tensor<2x2x2x16xbf16>, %qp: tensor<2x2x2x8xbf16>, %c: tensor<2x5x16xbf16>, %k: tensor<2x5x8xbf16>, %sp: tensor<2xi64>, %kl: tensor<2xi64>) -> tensor<2x2x2x16xbf16> {
  %o = dsv3.latent_attention %qn, %qp, %c, %k, %sp, %kl scale(0.1352338) : tensor<2x2x2x16xbf16>, tensor<2x2x2x8xbf16>, tensor<2x5x16xbf16>, tensor<2x5x8xbf16>, tensor<2xi64>, tensor<2xi64> -> tensor<2x2x2x16xbf16>
  return %o : tensor<2x2x2x16xbf16>
}
func.func @kv_cache_update(%c: tensor<1x5x16xbf16>, %k: tensor<1x5x8xbf16>, %nc: tensor<1x2x16xf32>, %nk: tensor<1x2x8xf32>, %sp: tensor<1xi64>) -> (tensor<1x5x16xbf16>, tensor<1x5x8xbf16>) {
  %a, %b = dsv3.kv_cache_update %c, %k, %nc, %nk, %sp : tensor<1x5x16xbf16>, tensor<1x5x8xbf16>, tensor<1x2x16xf32>, tensor<1x2x8xf32>, tensor<1xi64> -> tensor<1x5x16xbf16>, tensor<1x5x8xbf16>
  return %a, %b : tensor<1x5x16xbf16>, tensor<1x5x8xbf16>
}
