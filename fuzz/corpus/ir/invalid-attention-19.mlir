func.func @update_dynamic(%c: tensor<2x?x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x3x16xf32>, %nk: tensor<2x3x4xf32>, %s: tensor<2xi64>) {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x?x16xf32>, tensor<2x8x4xf32>, tensor<2x3x16xf32>, tensor<2x3x4xf32>, tensor<2xi64> -> tensor<2x?x16xf32>, tensor<2x8x4xf32>
  return
}
