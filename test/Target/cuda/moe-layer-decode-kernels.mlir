// A DeepSeek-V3 MoE layer (layers 3-60: 256 routed experts, top-8 of 8
// groups keeping 4, one shared expert, FP8 weights) at one token through the
// cuda strategy: the kernels one decode step launches for it, in order. The
// correct-first mapping launched 44: 20 for the router, 13 for the dispatch,
// 2 for the combine, two SwiGLUs and an add of their own.
//   router:   logits GEMV, then one block per token that selects
//   dispatch: one index block, a block per routed row
//   experts:  gate_proj and up_proj in one grouped GEMV with SwiGLU in its
//             epilogue, then down_proj
//   combine:  a block per (token, 256 columns)
//   shared:   gate_proj + up_proj + SwiGLU, then down_proj with the routed
//             output added in its epilogue
// The fused kernels assemble for sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=gpu -o - | FileCheck %s
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/moe_grouped_matmul_gate_proj_fp8_and_up_proj_fp8.ptx -o %t/k1.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/moe_linear_gate_proj_fp8_and_up_proj_fp8.ptx -o %t/k2.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/moe_linear_down_proj_fp8.ptx -o %t/k3.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// What one launch moves and computes (dsv3-gpu-kernel-costs), where the
// strategy knows it: the grouped GEMVs count the weights and scales of
// min(rows, experts) = 8 experts (each routed row to its own expert, as at
// one token), 2 x 2048 x 7168 x 8 flops per projection; the combine reads
// the 8 routed rows; the dispatch has none.
// CHECK:       dsv3.kernel_costs = {moe_expert_combine = {bytes = 260168 : i64, flops = 114688 : i64}, moe_grouped_matmul_down_proj_fp8 = {bytes = 117766152 : i64, flops = 234881024 : i64}, moe_grouped_matmul_gate_proj_fp8_and_up_proj_fp8 = {bytes = 235120648 : i64, flops = 469762048 : i64}, moe_linear_down_proj_fp8 = {bytes = 14749184 : i64, flops = 29360128 : i64}, moe_linear_gate = {bytes = 3685376 : i64, flops = 3670016 : i64}, moe_linear_gate_proj_fp8_and_up_proj_fp8 = {bytes = 29389824 : i64, flops = 58720256 : i64}, moe_moe_gate_gate = {bytes = 2112 : i64}}
// CHECK-LABEL: func.func @moe(
// CHECK:       gpu.launch_func async {{.*}} @moe_linear_gate::{{.*}} blocks in (%c32, %c1, %c1) threads in (%c32, %c8, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_moe_gate_gate::{{.*}} blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_expert_dispatch_offsets::{{.*}} blocks in (%c1, %c1, %c1) threads in (%c257, %c1, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_expert_dispatch_rows::{{.*}} blocks in (%c8, %c1, %c1) threads in (%c256, %c1, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_grouped_matmul_gate_proj_fp8_and_up_proj_fp8::{{.*}} blocks in (%c256, %c8, %c1) threads in (%c32, %c8, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_grouped_matmul_down_proj_fp8::{{.*}} blocks in (%c896, %c8, %c1) threads in (%c32, %c8, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_expert_combine::{{.*}} blocks in (%c1, %c28, %c1) threads in (%c256, %c1, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_linear_gate_proj_fp8_and_up_proj_fp8::{{.*}} blocks in (%c256, %c1, %c1) threads in (%c32, %c8, %c1)
// CHECK:       gpu.launch_func async {{.*}} @moe_linear_down_proj_fp8::{{.*}} blocks in (%c896, %c1, %c1) threads in (%c32, %c8, %c1)
// CHECK-NOT:   gpu.launch_func
// CHECK:       return
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @moe(%x: tensor<1x7168xbf16>) -> tensor<1x7168xf32> {
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(256)
      num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc)
      scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5)
      moe_intermediate_size(2048) n_shared_experts(1) weight_type(f8E4M3FN)
      alignment(1) : tensor<1x7168xbf16> -> tensor<1x7168xf32>
  return %y : tensor<1x7168xf32>
}
