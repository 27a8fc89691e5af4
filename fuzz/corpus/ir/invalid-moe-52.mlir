func.func @moe_shared_wraps(%x: tensor<4x7168xbf16>) {
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(256) num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(2048) n_shared_experts(9007199254740992) weight_type(f8E4M3FN) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
  return
}
