func.func @gate_kept_experts(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(noaux_tc) top_k(3) n_group(4) topk_group(1) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x3xf32>, tensor<4x3xi32>
  return
}
