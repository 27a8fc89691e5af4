func.func @moe_greedy_groups(%x: tensor<4x16xf32>) {
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(greedy) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}
