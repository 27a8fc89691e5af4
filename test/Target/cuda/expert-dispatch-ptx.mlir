// DeepSeek-V3's expert dispatch and combine at one token (top-8 of 256,
// alignment 1, hidden 7168) through the cuda strategy
// (dsv3-gpu-expert-dispatch, dsv3-gpu-expert-combine): three kernels, where
// the definitions launched 15. The index kernel is one block (a thread per
// expert and one more: 257) with the counts in shared memory; the row copy
// has a block per routed row; the combine a block per (token, 256 columns)
// with the pairs' rows in shared memory. All assemble for sm_90a without
// spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=gpu -o - | FileCheck %s --check-prefix=GPU
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: FileCheck %s < %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*.ptx | count 4
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/moe_expert_dispatch_offsets.ptx -o %t/k1.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/moe_expert_dispatch_rows.ptx -o %t/k2.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/moe_expert_combine.ptx -o %t/k3.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// GPU:     gpu.launch_func async [%{{.*}}] @moe_expert_dispatch_offsets::@moe_expert_dispatch_offsets blocks in (%c1, %c1, %c1) threads in (%c257, %c1, %c1)
// GPU:     gpu.launch_func async [%{{.*}}] @moe_expert_dispatch_rows::@moe_expert_dispatch_rows blocks in (%c8, %c1, %c1) threads in (%c256, %c1, %c1)
// GPU:     gpu.launch_func async [%{{.*}}] @moe_expert_combine::@moe_expert_combine blocks in (%c1, %c28, %c1) threads in (%c256, %c1, %c1)
// GPU-NOT: gpu.launch_func
// CHECK-LABEL: .entry moe_expert_dispatch_offsets(
// CHECK:       .shared .align 16 .b8 {{.*}}[2048];
// CHECK-COUNT-4: bar.sync
// CHECK-LABEL: .entry moe_expert_dispatch_rows(
// CHECK-LABEL: .entry moe_expert_combine(
// CHECK:       .shared .align 16 .b8 {{.*}}[64];
// CHECK:       bar.sync
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @moe(%x: tensor<1x7168xbf16>, %ids: tensor<1x8xi32>, %w: tensor<1x8xf32>, %out: tensor<8x7168xf32>)
    -> (tensor<8x7168xbf16>, tensor<257xi64>, tensor<1x7168xf32>) {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1)
      : (tensor<1x7168xbf16>, tensor<1x8xi32>) -> tensor<8x7168xbf16>, tensor<257xi64>, tensor<8xi64>
  %y = dsv3.expert_combine %out, %ids, %w, %off
      : (tensor<8x7168xf32>, tensor<1x8xi32>, tensor<1x8xf32>, tensor<257xi64>) -> tensor<1x7168xf32>
  return %rows, %off, %y : tensor<8x7168xbf16>, tensor<257xi64>, tensor<1x7168xf32>
}
