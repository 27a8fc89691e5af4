// RUN: dsv3-opt %s -split-input-file -verify-diagnostics
// One case per verifier error of the MoE ops.

func.func @gate_rank(%x: tensor<4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{expects rank-2 input [T, H] and weight [E, H]}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4xf32>, tensor<8x4xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_logits_rank(%u: tensor<4x8x1xf32>) {
  // expected-error @+1 {{expects rank-2 logits [T, E]}}
  %wt, %ids = dsv3.moe_gate %u scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x8x1xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_logits_dtype(%u: tensor<4x8xbf16>) {
  // expected-error @+1 {{expects f32 logits [T, E] without a weight, got 'bf16'}}
  %wt, %ids = dsv3.moe_gate %u scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x8xbf16>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_logits_top_k(%u: tensor<4x8xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the 8 experts}}
  %wt, %ids = dsv3.moe_gate %u scoring_func(sigmoid) topk_method(greedy) top_k(9) : (tensor<4x8xf32>) -> tensor<4x9xf32>, tensor<4x9xi32>
  return
}

// -----

func.func @gate_bias_rank(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<8x1xf32>) {
  // expected-error @+1 {{expects a rank-1 e_score_correction_bias [E]}}
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<8x1xf32>) scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_dynamic(%x: tensor<?x16xf32>, %w: tensor<?x16xf32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but weight [?, 16] has dimension 0 dynamic}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return
}

// -----

func.func @gate_hidden(%x: tensor<4x16xf32>, %w: tensor<8x32xf32>) {
  // expected-error @+1 {{weight hidden size (32) differs from input hidden size (16)}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x16xf32>, tensor<8x32xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_bias_shape(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{e_score_correction_bias must be [8] (one per expert), got [4]}}
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<4xf32>) scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_top_k_positive(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{attribute 'top_k' failed to satisfy constraint}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(0) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x0xf32>, tensor<4x0xi32>
  return
}

// -----

func.func @gate_top_k_too_large(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{top_k (9) exceeds the 8 experts}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(9) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x9xf32>, tensor<4x9xi32>
  return
}

// -----

func.func @gate_result_shape(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{results must be [4, 2] ([T, top_k]), got [4, 2] and [4, 3]}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x3xi32>
  return
}

// -----

func.func @gate_n_group(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{n_group (3) must be a positive divisor of the 8 experts}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(noaux_tc) top_k(2) n_group(3) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_topk_group(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{topk_group (5) must be in [1, n_group = 4]}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(noaux_tc) top_k(2) n_group(4) topk_group(5) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_kept_experts(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{top_k (3) exceeds the 2 experts of the kept groups}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(noaux_tc) top_k(3) n_group(4) topk_group(1) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x3xf32>, tensor<4x3xi32>
  return
}

// -----

func.func @gate_greedy_groups(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{greedy routing has no groups: n_group and topk_group must be 1}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(2) n_group(2) topk_group(2) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_noaux_group_size(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{noaux_tc scores a group by its 2 best experts and needs at least 2 experts per group, got 1}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(noaux_tc) top_k(2) n_group(8) topk_group(4) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @gate_factor(%x: tensor<4x16xf32>, %w: tensor<8x16xf32>) {
  // expected-error @+1 {{routed_scaling_factor must be positive and finite}}
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(2) routed_scaling_factor(0.0) : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x2xf32>, tensor<4x2xi32>
  return
}

// -----

func.func @bias_update_rank(%ids: tensor<8xi32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects ids [T, K] and bias [E]}}
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<8xi32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @bias_update_dynamic(%ids: tensor<?x2xi32>, %b: tensor<?xf32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but bias [?] has dimension 0 dynamic}}
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<?x2xi32>, tensor<?xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @bias_update_result(%ids: tensor<4x2xi32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{result type must equal the bias type 'tensor<4xf32>'}}
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<4x2xi32>, tensor<4xf32>) -> tensor<5xf32>
  return
}

// -----

func.func @bias_update_gamma(%ids: tensor<4x2xi32>, %b: tensor<4xf32>) {
  // expected-error @+1 {{gamma must be non-negative and finite}}
  %nb = dsv3.expert_bias_update %ids, %b gamma(-1.0e-03) : (tensor<4x2xi32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @dispatch_rank(%x: tensor<4xf32>, %ids: tensor<4x2xi32>) {
  // expected-error @+1 {{expects input [T, H] and ids [T, K]}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<8xi64>
  return
}

// -----

func.func @dispatch_dynamic(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but offsets [?] has dimension 0 dynamic}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<?x4xf32>, tensor<?x2xi32>) -> tensor<?x4xf32>, tensor<?xi64>, tensor<?xi64>
  return
}

// -----

func.func @dispatch_tokens(%x: tensor<4x4xf32>, %ids: tensor<3x2xi32>) {
  // expected-error @+1 {{ids have 3 tokens but the input has 4}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4x4xf32>, tensor<3x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<8xi64>
  return
}

// -----

func.func @dispatch_alignment(%x: tensor<4x4xf32>, %ids: tensor<4x2xi32>) {
  // expected-error @+1 {{attribute 'alignment' failed to satisfy constraint}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(0) : (tensor<4x4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<8xi64>
  return
}

// -----

func.func @dispatch_offsets(%x: tensor<4x4xf32>, %ids: tensor<4x2xi32>) {
  // expected-error @+1 {{offsets must be [E + 1] with E >= 1, got [1]}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4x4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<1xi64>, tensor<8xi64>
  return
}

// -----

func.func @dispatch_rows(%x: tensor<4x4xf32>, %ids: tensor<4x2xi32>) {
  // expected-error @+1 {{rows must be [20, 4] (T*K + E*(alignment-1) rows) of 'f32', got 'tensor<8x4xf32>'}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<4x4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<8xi64>
  return
}

// -----

func.func @dispatch_row_to_token(%x: tensor<4x4xf32>, %ids: tensor<4x2xi32>) {
  // expected-error @+1 {{row_to_token must be [8], got [4]}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4x4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<4xi64>
  return
}

// -----

func.func @gmm_rank(%a: tensor<8x64xf32>, %w: tensor<4x64xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{expects input [R, K], weight [E, N, K] and offsets [E + 1]}}
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x64xf32>, tensor<5xi64>) -> tensor<8x4xf32>
  return
}

// -----

func.func @gmm_dynamic(%a: tensor<?x64xf32>, %w: tensor<4x?x64xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but weight [4, ?, 64] has dimension 1 dynamic}}
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<?x64xf32>, tensor<4x?x64xf32>, tensor<5xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @gmm_k(%a: tensor<8x32xf32>, %w: tensor<4x8x64xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{weight K (64) differs from input K (32)}}
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x32xf32>, tensor<4x8x64xf32>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @gmm_offsets(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf32>, %o: tensor<4xi64>) {
  // expected-error @+1 {{offsets must be [5] (E + 1), got [4]}}
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x8x64xf32>, tensor<4xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @gmm_result(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{result shape must be [8, 8], got [8, 4]}}
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x8x64xf32>, tensor<5xi64>) -> tensor<8x4xf32>
  return
}

// -----

func.func @gmm_missing_scale(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf8E4M3FN>, %o: tensor<5xi64>) {
  // expected-error @+1 {{an FP8 weight requires weight_scale_inv}}
  %d = dsv3.grouped_matmul %a, %w, %o : (tensor<8x64xf32>, tensor<4x8x64xf8E4M3FN>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @gmm_extra_scale(%a: tensor<8x64xf32>, %w: tensor<4x8x64xf32>, %o: tensor<5xi64>, %s: tensor<4x1x1xf32>) {
  // expected-error @+1 {{weight_scale_inv given for a non-FP8 weight}}
  %d = dsv3.grouped_matmul %a, %w, %o weight_scale_inv(%s : tensor<4x1x1xf32>) : (tensor<8x64xf32>, tensor<4x8x64xf32>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @gmm_scale_shape(%a: tensor<8x200xf32>, %w: tensor<4x8x200xf8E4M3FN>, %o: tensor<5xi64>, %s: tensor<4x1x1xf32>) {
  // expected-error @+1 {{weight_scale_inv shape must be [4, 1, 2], got [4, 1, 1]}}
  %d = dsv3.grouped_matmul %a, %w, %o weight_scale_inv(%s : tensor<4x1x1xf32>) : (tensor<8x200xf32>, tensor<4x8x200xf8E4M3FN>, tensor<5xi64>) -> tensor<8x8xf32>
  return
}

// -----

func.func @combine_rank(%r: tensor<8x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %o: tensor<5x1xi64>) {
  // expected-error @+1 {{expects rows [R, N], ids [T, K], weights [T, K] and offsets [E + 1]}}
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<8x4xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<5x1xi64>) -> tensor<4x4xf32>
  return
}

// -----

func.func @combine_dynamic(%r: tensor<?x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %o: tensor<?xi64>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but offsets [?] has dimension 0 dynamic}}
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<?x4xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<?xi64>) -> tensor<4x4xf32>
  return
}

// -----

func.func @combine_weights(%r: tensor<8x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x1xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{weights [4, 1] must have the shape of ids [4, 2]}}
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<8x4xf32>, tensor<4x2xi32>, tensor<4x1xf32>, tensor<5xi64>) -> tensor<4x4xf32>
  return
}

// -----

func.func @combine_offsets(%r: tensor<8x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %o: tensor<1xi64>) {
  // expected-error @+1 {{offsets must be [E + 1] with E >= 1}}
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<8x4xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<1xi64>) -> tensor<4x4xf32>
  return
}

// -----

func.func @combine_result(%r: tensor<8x4xf32>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %o: tensor<5xi64>) {
  // expected-error @+1 {{result shape must be [4, 4] ([T, N]), got [4, 8]}}
  %y = dsv3.expert_combine %r, %ids, %w, %o : (tensor<8x4xf32>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<5xi64>) -> tensor<4x8xf32>
  return
}

// -----

// dsv3.moe: one case per verifier error (router checks shared with moe_gate).
func.func @moe_rank(%x: tensor<4xf32>) {
  // expected-error @+1 {{expects a rank-2 input [T, H]}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4xf32> -> tensor<4xf32>
  return
}

// -----

func.func @moe_result(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{result must be [4, 16] ([T, H]), got [4, 8]}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @moe_prefix_empty(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{prefix must be a non-empty HF module path without a trailing '.', got ''}}
  %y = dsv3.moe %x prefix("") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_prefix_dot(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{prefix must be a non-empty HF module path without a trailing '.', got 'model.layers.3.mlp.'}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp.") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_weight_type(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{weight_type must be bf16, f16, f32 or f8E4M3FN, got 'i8'}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(i8) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_shared(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{n_shared_experts must be non-negative, got -1}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(-1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_topk_experts(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{num_experts_per_tok (9) exceeds the 8 experts}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(9) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_n_group(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{n_group (3) must be a positive divisor of the 8 experts}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(3) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_topk_group(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{topk_group (5) must be in [1, n_group = 4]}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(5) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_topk_kept(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{num_experts_per_tok (5) exceeds the 4 experts of the kept groups}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(5) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_greedy_groups(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{greedy routing has no groups: n_group and topk_group must be 1}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(greedy) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_noaux_per_group(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{noaux_tc scores a group by its 2 best experts and needs at least 2 experts per group, got 1}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(8) topk_group(4) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @moe_scale(%x: tensor<4x16xf32>) {
  // expected-error @+1 {{routed_scaling_factor must be positive and finite}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(-1.0) moe_intermediate_size(8) n_shared_experts(1) weight_type(f32) : tensor<4x16xf32> -> tensor<4x16xf32>
  return
}

// -----

// Sizes the decomposition derives are bounded (2^48 elements), so nothing
// wraps: alignment 2^62 made T*K + E*(alignment-1) negative.
func.func @moe_alignment_wraps(%x: tensor<4x7168xbf16>) {
  // expected-error @+1 {{n_routed_experts x (alignment - 1) = 256 x 4611686018427387903 is negative or exceeds 2^48 elements}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(256) num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(2048) n_shared_experts(1) weight_type(f8E4M3FN) alignment(4611686018427387904) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
  return
}

// -----

// n_shared_experts x moe_intermediate_size wrapped to 0: the shared expert
// vanished.
func.func @moe_shared_wraps(%x: tensor<4x7168xbf16>) {
  // expected-error @+1 {{n_shared_experts x moe_intermediate_size x hidden = 9007199254740992 x 2048 x 7168 is negative or exceeds 2^48 elements}}
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(256) num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(2048) n_shared_experts(9007199254740992) weight_type(f8E4M3FN) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
  return
}

// -----

func.func @dispatch_alignment_wraps(%x: tensor<4x4xf32>, %ids: tensor<4x2xi32>) {
  // expected-error @+1 {{the padding rows E x (alignment - 1) = 4 x 4611686018427387903 is negative or exceeds 2^48 elements}}
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(4611686018427387904) : (tensor<4x4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<8xi64>
  return
}
