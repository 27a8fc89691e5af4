func.func @core(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %l: tensor<8x64xf32>, %a: tensor<?x128xf32>) -> (tensor<?x8xf32>, tensor<?x128xf8E4M3FN>) {
  %n = dsv3.rms_norm %x, %w : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = dsv3.linear %n, %l : (tensor<?x64xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
  %q, %s = dsv3.quantize %a block [1, 128] : tensor<?x128xf32> -> tensor<?x128xf8E4M3FN>, tensor<?x1xf32>
  return %y, %q : tensor<?x8xf32>, tensor<?x128xf8E4M3FN>
}
func.func @attention(%k: tensor<1x?x4xf32>, %p: tensor<1x?xi64>, %nc: tensor<1x?x16xf32>, %c: tensor<1x8x16xf32>, %kc: tensor<1x8x4xf32>, %s: tensor<1xi64>, %q: tensor<1x?x2x16xf32>, %qp: tensor<1x?x2x4xf32>) -> tensor<1x?x2x16xf32> {
  %r = dsv3.rope %k at %p : (tensor<1x?x4xf32>, tensor<1x?xi64>) -> tensor<1x?x4xf32>
  %c2, %k2 = dsv3.kv_cache_update %c, %kc, %nc, %r, %s : tensor<1x8x16xf32>, tensor<1x8x4xf32>, tensor<1x?x16xf32>, tensor<1x?x4xf32>, tensor<1xi64> -> tensor<1x8x16xf32>, tensor<1x8x4xf32>
  %o = dsv3.latent_attention %q, %qp, %c2, %k2, %s, %s scale(0.5) : tensor<1x?x2x16xf32>, tensor<1x?x2x4xf32>, tensor<1x8x16xf32>, tensor<1x8x4xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x?x2x16xf32>
  return %o : tensor<1x?x2x16xf32>
}
func.func @moe(%x: tensor<?x16xf32>, %g: tensor<4x16xf32>, %w: tensor<4x8x16xf32>) -> tensor<?x8xf32> {
  %wt, %ids = dsv3.moe_gate %x, %g scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<?x16xf32>, tensor<4x16xf32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<?x16xf32>, tensor<?x2xi32>) -> tensor<?x16xf32>, tensor<5xi64>, tensor<?xi64>
  %d = dsv3.grouped_matmul %rows, %w, %off : (tensor<?x16xf32>, tensor<4x8x16xf32>, tensor<5xi64>) -> tensor<?x8xf32>
  %y = dsv3.expert_combine %d, %ids, %wt, %off : (tensor<?x8xf32>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<5xi64>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @model(%t: tensor<256x8xbf16>, %ids: tensor<1x?xi64>) -> tensor<1x?x8xbf16> {
  %h = dsv3.embedding %t[%ids] : (tensor<256x8xbf16>, tensor<1x?xi64>) -> tensor<1x?x8xbf16>
  return %h : tensor<1x?x8xbf16>
}
