// The split-KV decode attention kernels (dsv3-gpu-latent-attention) of a V3
// step over a 4096-row cache. Kernel 1 runs the scores and the weighted sum
// on tensor cores: each warp loads its m16n8k16 fragments from the queries
// and the cache (4 mma.sync per 16 channels for the scores, one per group
// of 8 keys; 3 per 16 keys and n-tile for the weighted sum, one per bf16
// term of p, with the cache rows read as columns by 2-byte loads), and
// keeps the [16 heads, 256 keys] scores (rows padded to 264: 16896 bytes)
// in shared memory between barriers, a block of 256 threads; kernel 2 (the
// merge) reads the f32 partials with 16-byte loads. Both assemble for
// sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: FileCheck %s < %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*.ptx | count 3
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/decode_latent_attention.ptx -o %t/k1.cubin 2>&1 | FileCheck %s --check-prefix=TILE
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/decode_latent_attention_1.ptx -o %t/k2.cubin 2>&1 | FileCheck %s --check-prefix=MERGE

// CHECK-LABEL: .entry decode_latent_attention(
// CHECK:       .maxntid 256, 1, 1
// CHECK:       .shared .align {{[0-9]+}} .b8 {{.*}}[16896];
// CHECK:       ld.global.b32
// CHECK:       mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-COUNT-3: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK:       st.shared.v2.b32
// CHECK:       bar.sync
// CHECK:       ex2.approx
// CHECK:       bar.sync
// CHECK:       ld.shared.v2.b32
// CHECK:       cvt.rn.bf16x2.f32
// CHECK:       ld.global.b16
// CHECK-COUNT-3: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK:       st.global.v2.b32
// CHECK-LABEL: .entry decode_latent_attention_1(
// CHECK:       ld.global.v4.b32
// CHECK:       div.rn.f32
// TILE: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// TILE: Used 64 registers, used 1 barriers, 16896 bytes smem
// MERGE: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

func.func @decode(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x4096x512xbf16>,
                  %k: tensor<1x4096x64xbf16>, %start: tensor<1xi64>, %len: tensor<1xi64>) -> tensor<1x1x128x512xbf16> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>,
        tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xbf16>
  return %o : tensor<1x1x128x512xbf16>
}
