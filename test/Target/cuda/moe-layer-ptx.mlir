// A whole dsv3.moe layer (bf16 activations, FP8 experts with block scales,
// a shared expert) goes through the cuda pipeline, --dsv3-decompose-moe
// included, to PTX. --emit=ptx needs no ptxas. (Sizes give every expert
// 2x2 scale blocks: a 1x1 one is a single-element copy, which the cuda
// pipeline currently leaves in host code.)
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o - | FileCheck %s

// CHECK: .target sm_90a
// CHECK: .visible .entry
// CHECK: cvt.rn.f16x2.e4m3x2
func.func @moe(%x: tensor<4x256xbf16>) -> tensor<4x256xbf16> {
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(8) num_experts_per_tok(2) n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5) moe_intermediate_size(160) n_shared_experts(1) weight_type(f8E4M3FN) alignment(4) : tensor<4x256xbf16> -> tensor<4x256xbf16>
  return %y : tensor<4x256xbf16>
}
