// Every MoE op lowers through the cuda pipeline to PTX (one thread per
// output element; the selections and permutations are generics without
// atomics). --emit=ptx needs no ptxas.
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o - | FileCheck %s

// CHECK: .target sm_90a
// CHECK: .visible .entry
// The FP8 expert weights are widened with the hardware conversion.
// CHECK: cvt.rn.f16x2.e4m3x2
func.func @moe(%x: tensor<4x64xbf16>, %gw: tensor<8x64xbf16>, %b: tensor<8xf32>, %we: tensor<8x33x64xf8E4M3FN>, %s: tensor<8x1x1xf32>) -> (tensor<4x33xbf16>, tensor<8xf32>) {
  %w, %ids = dsv3.moe_gate %x, %gw bias(%b : tensor<8xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(2) n_group(4) topk_group(2) norm_topk_prob routed_scaling_factor(2.5) : (tensor<4x64xbf16>, tensor<8x64xbf16>) -> tensor<4x2xf32>, tensor<4x2xi32>
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<4x2xi32>, tensor<8xf32>) -> tensor<8xf32>
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<4x64xbf16>, tensor<4x2xi32>) -> tensor<32x64xbf16>, tensor<9xi64>, tensor<32xi64>
  %d = dsv3.grouped_matmul %rows, %we, %off weight_scale_inv(%s : tensor<8x1x1xf32>) : (tensor<32x64xbf16>, tensor<8x33x64xf8E4M3FN>, tensor<9xi64>) -> tensor<32x33xbf16>
  %y = dsv3.expert_combine %d, %ids, %w, %off : (tensor<32x33xbf16>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<9xi64>) -> tensor<4x33xbf16>
  return %y, %nb : tensor<4x33xbf16>, tensor<8xf32>
}
