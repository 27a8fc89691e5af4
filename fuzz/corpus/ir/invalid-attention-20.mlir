func.func @update_rank(%c: tensor<16x16xf32>, %k: tensor<16x4xf32>, %nc: tensor<2x1x16xf32>, %nk: tensor<2x1x4xf32>, %s: tensor<2xi64>) {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<16x16xf32>, tensor<16x4xf32>, tensor<2x1x16xf32>, tensor<2x1x4xf32>, tensor<2xi64> -> tensor<16x16xf32>, tensor<16x4xf32>
  return
}
