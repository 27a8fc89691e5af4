func.func @linear(%x: tensor<?x64xf32>, %w: tensor<8x64xf32>) -> tensor<?x8xf32> {
  %y = dsv3.linear %x, %w : (tensor<?x64xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @dispatch(%x: tensor<?x16xf32>, %ids: tensor<?x2xi32>) -> tensor<?x16xf32> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<?x16xf32>, tensor<?x2xi32>) -> tensor<?x16xf32>, tensor<5xi64>, tensor<?xi64>
  return %rows : tensor<?x16xf32>
}
func.func @update(%c: tensor<1x8x16xf32>, %k: tensor<1x8x4xf32>, %nc: tensor<1x?x16xf32>, %nk: tensor<1x?x4xf32>, %s: tensor<1xi64>) -> tensor<1x8x16xf32> {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<1x8x16xf32>, tensor<1x8x4xf32>, tensor<1x?x16xf32>, tensor<1x?x4xf32>, tensor<1xi64> -> tensor<1x8x16xf32>, tensor<1x8x4xf32>
  return %c2 : tensor<1x8x16xf32>
}
