// DeepSeek-V3's router at one token through the cuda strategy
// (dsv3-gpu-moe-gate): two kernels, where the definition launched 20. The
// logits are the decode-linear GEMV (a warp per expert: 32 blocks of 8
// warps); the selection is one 256-thread block per token with its scores,
// keys, group scores, selection keys and rank order in shared memory
// between barriers. Both assemble for sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=gpu -o - | FileCheck %s --check-prefix=GPU
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: FileCheck %s < %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*.ptx | count 3
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/route_linear_gate.ptx -o %t/k1.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/route_moe_gate_gate.ptx -o %t/k2.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// GPU:     gpu.launch_func async [%{{.*}}] @route_linear_gate::@route_linear_gate blocks in (%c32, %c1, %c1) threads in (%c32, %c8, %c1)
// GPU:     gpu.launch_func async [%{{.*}}] @route_moe_gate_gate::@route_moe_gate_gate blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)
// GPU-NOT: gpu.launch_func
// CHECK-LABEL: .entry route_linear_gate(
// CHECK:       bar.sync
// CHECK-LABEL: .entry route_moe_gate_gate(
// CHECK-COUNT-3: .shared .align 16 .b8 {{.*}}[1024];
// CHECK-COUNT-5: bar.sync
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @route(%x: tensor<1x7168xbf16>) -> (tensor<1x8xf32>, tensor<1x8xi32>) {
  %w = dsv3.parameter "model.layers.3.mlp.gate.weight" : tensor<256x7168xbf16>
  %b = dsv3.parameter "model.layers.3.mlp.gate.e_score_correction_bias" : tensor<256xf32>
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<256xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8)
      topk_group(4) norm_topk_prob routed_scaling_factor(2.5)
      : (tensor<1x7168xbf16>, tensor<256x7168xbf16>) -> tensor<1x8xf32>, tensor<1x8xi32>
  return %wt, %ids : tensor<1x8xf32>, tensor<1x8xi32>
}
