func.func @gate_dynamic(%x: tensor<?x16xf32>, %w: tensor<?x16xf32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}
