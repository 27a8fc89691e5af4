// RUN: dsv3-opt %s | dsv3-opt | FileCheck %s
// Round trip of the MoE ops' custom assembly, with and without defaults.

// CHECK-LABEL: func.func @moe_gate_v3
// CHECK: dsv3.moe_gate %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<256xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8) topk_group(4) norm_topk_prob routed_scaling_factor(2.500000e+00) : (tensor<4x7168xbf16>, tensor<256x7168xbf16>) -> tensor<4x8xf32>, tensor<4x8xi32>
func.func @moe_gate_v3(%x: tensor<4x7168xbf16>, %w: tensor<256x7168xbf16>, %b: tensor<256xf32>) -> (tensor<4x8xf32>, tensor<4x8xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<256xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8) topk_group(4) norm_topk_prob routed_scaling_factor(2.5) : (tensor<4x7168xbf16>, tensor<256x7168xbf16>) -> tensor<4x8xf32>, tensor<4x8xi32>
  return %wt, %ids : tensor<4x8xf32>, tensor<4x8xi32>
}

// The router on given logits [T, E] (no weight).
// CHECK-LABEL: func.func @moe_gate_logits
// CHECK: dsv3.moe_gate %{{.*}} bias(%{{.*}} : tensor<256xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8) topk_group(4) norm_topk_prob routed_scaling_factor(2.500000e+00) : (tensor<?x256xf32>) -> tensor<?x8xf32>, tensor<?x8xi32>
func.func @moe_gate_logits(%u: tensor<?x256xf32>, %b: tensor<256xf32>) -> (tensor<?x8xf32>, tensor<?x8xi32>) {
  %wt, %ids = dsv3.moe_gate %u bias(%b : tensor<256xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8) topk_group(4) norm_topk_prob routed_scaling_factor(2.5) : (tensor<?x256xf32>) -> tensor<?x8xf32>, tensor<?x8xi32>
  return %wt, %ids : tensor<?x8xf32>, tensor<?x8xi32>
}

// Defaults (n_group 1, topk_group 1, no renormalisation, factor 1) are not
// printed.
// CHECK-LABEL: func.func @moe_gate_v2_lite
// CHECK: dsv3.moe_gate %{{.*}}, %{{.*}} scoring_func(softmax) topk_method(greedy) top_k(6) : (tensor<2x2048xf32>, tensor<64x2048xf32>) -> tensor<2x6xf32>, tensor<2x6xi32>
func.func @moe_gate_v2_lite(%x: tensor<2x2048xf32>, %w: tensor<64x2048xf32>) -> (tensor<2x6xf32>, tensor<2x6xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(6) routed_scaling_factor(1.0) : (tensor<2x2048xf32>, tensor<64x2048xf32>) -> tensor<2x6xf32>, tensor<2x6xi32>
  return %wt, %ids : tensor<2x6xf32>, tensor<2x6xi32>
}

// CHECK-LABEL: func.func @moe_gate_v2
// CHECK: dsv3.moe_gate %{{.*}}, %{{.*}} scoring_func(softmax) topk_method(group_limited_greedy) top_k(6) n_group(8) topk_group(3) routed_scaling_factor(1.600000e+01)
func.func @moe_gate_v2(%x: tensor<2x5120xbf16>, %w: tensor<160x5120xbf16>) -> (tensor<2x6xf32>, tensor<2x6xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(group_limited_greedy) top_k(6) n_group(8) topk_group(3) routed_scaling_factor(16.0) : (tensor<2x5120xbf16>, tensor<160x5120xbf16>) -> tensor<2x6xf32>, tensor<2x6xi32>
  return %wt, %ids : tensor<2x6xf32>, tensor<2x6xi32>
}

// CHECK-LABEL: func.func @expert_bias_update
// CHECK: dsv3.expert_bias_update %{{.*}}, %{{.*}} gamma(1.000000e-03) : (tensor<4x8xi32>, tensor<256xf32>) -> tensor<256xf32>
func.func @expert_bias_update(%ids: tensor<4x8xi32>, %b: tensor<256xf32>) -> tensor<256xf32> {
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<4x8xi32>, tensor<256xf32>) -> tensor<256xf32>
  return %nb : tensor<256xf32>
}

// CHECK-LABEL: func.func @dispatch_gemm_combine
// CHECK: dsv3.expert_dispatch %{{.*}}, %{{.*}} alignment(128) : (tensor<4x7168xbf16>, tensor<4x8xi32>) -> tensor<32544x7168xbf16>, tensor<257xi64>, tensor<32544xi64>
// CHECK: dsv3.grouped_matmul %{{.*}}, %{{.*}}, %{{.*}} weight_scale_inv(%{{.*}} : tensor<256x16x56xf32>) : (tensor<32544x7168xbf16>, tensor<256x2048x7168xf8E4M3FN>, tensor<257xi64>) -> tensor<32544x2048xbf16>
// CHECK: dsv3.grouped_matmul %{{.*}}, %{{.*}}, %{{.*}} : (tensor<32544x7168xbf16>, tensor<256x2048x7168xbf16>, tensor<257xi64>) -> tensor<32544x2048xf32>
// CHECK: dsv3.expert_combine %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : (tensor<32544x2048xbf16>, tensor<4x8xi32>, tensor<4x8xf32>, tensor<257xi64>) -> tensor<4x2048xbf16>
func.func @dispatch_gemm_combine(%x: tensor<4x7168xbf16>, %ids: tensor<4x8xi32>, %w: tensor<4x8xf32>, %we: tensor<256x2048x7168xf8E4M3FN>, %s: tensor<256x16x56xf32>, %wb: tensor<256x2048x7168xbf16>) -> (tensor<4x2048xbf16>, tensor<32544x2048xf32>) {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(128) : (tensor<4x7168xbf16>, tensor<4x8xi32>) -> tensor<32544x7168xbf16>, tensor<257xi64>, tensor<32544xi64>
  %d = dsv3.grouped_matmul %rows, %we, %off weight_scale_inv(%s : tensor<256x16x56xf32>) : (tensor<32544x7168xbf16>, tensor<256x2048x7168xf8E4M3FN>, tensor<257xi64>) -> tensor<32544x2048xbf16>
  %d2 = dsv3.grouped_matmul %rows, %wb, %off : (tensor<32544x7168xbf16>, tensor<256x2048x7168xbf16>, tensor<257xi64>) -> tensor<32544x2048xf32>
  %y = dsv3.expert_combine %d, %ids, %w, %off : (tensor<32544x2048xbf16>, tensor<4x8xi32>, tensor<4x8xf32>, tensor<257xi64>) -> tensor<4x2048xbf16>
  return %y, %d2 : tensor<4x2048xbf16>, tensor<32544x2048xf32>
}

// dsv3.moe, the whole layer with HF config keys (DeepSeek-V3, FP8 experts).
// CHECK-LABEL: func.func @moe_layer_v3
// CHECK: dsv3.moe %{{.*}} prefix("model.layers.3.mlp") n_routed_experts(256) num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.500000e+00) moe_intermediate_size(2048) n_shared_experts(1) weight_type(f8E4M3FN) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
func.func @moe_layer_v3(%x: tensor<4x7168xbf16>) -> tensor<4x7168xbf16> {
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(256) num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(2048) n_shared_experts(1) weight_type(f8E4M3FN) alignment(128) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
  return %y : tensor<4x7168xbf16>
}

// Defaults (groups 1, no renormalisation, factor 1, no shared expert,
// alignment 128) are not printed (V2-Lite's routing, bf16 weights).
// CHECK-LABEL: func.func @moe_layer_defaults
// CHECK: dsv3.moe %{{.*}} prefix("model.layers.1.mlp") n_routed_experts(64) num_experts_per_tok(6) topk_method(greedy) scoring_func(softmax) moe_intermediate_size(1408) weight_type(bf16) : tensor<2x2048xf32> -> tensor<2x2048xf32>
func.func @moe_layer_defaults(%x: tensor<2x2048xf32>) -> tensor<2x2048xf32> {
  %y = dsv3.moe %x prefix("model.layers.1.mlp") n_routed_experts(64) num_experts_per_tok(6) topk_method(greedy) scoring_func(softmax) moe_intermediate_size(1408) weight_type(bf16) : tensor<2x2048xf32> -> tensor<2x2048xf32>
  return %y : tensor<2x2048xf32>
}
