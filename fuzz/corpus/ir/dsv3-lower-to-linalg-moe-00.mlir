func.func @moe_gate_v3(%x: tensor<4x64xbf16>, %w: tensor<16x64xbf16>, %b: tensor<16xf32>) -> (tensor<4x4xf32>, tensor<4x4xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<16xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(4) n_group(4) topk_group(2) norm_topk_prob routed_scaling_factor(2.5) : (tensor<4x64xbf16>, tensor<16x64xbf16>) -> tensor<4x4xf32>, tensor<4x4xi32>
  return %wt, %ids : tensor<4x4xf32>, tensor<4x4xi32>
}
