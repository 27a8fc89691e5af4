func.func @gate_topk_group(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(noaux_tc) top_k(2) n_group(4) topk_group(5) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}
