// Absorbed MLA's per-head products with V3's FP8 kv_b_proj at one token
// (dsv3-gpu-absorbed-heads): two kernels that read the codes with 8-byte
// loads (nothing dequantizes up front), their partial sums in shared
// memory; both assemble for sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=gpu -o - | FileCheck %s --check-prefix=GPU
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: FileCheck %s < %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*.ptx | count 3
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/heads_absorbed_uk.ptx -o %t/k1.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/heads_absorbed_uv.ptx -o %t/k2.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// GPU:     gpu.launch_func async [%{{.*}}] @heads_absorbed_uk::@heads_absorbed_uk blocks in (%c128, %c1, %c1) threads in (%c64, %c4, %c1)
// GPU:     gpu.launch_func async [%{{.*}}] @heads_absorbed_uv::@heads_absorbed_uv blocks in (%c16, %c128, %c1) threads in (%c32, %c8, %c1)
// GPU-NOT: gpu.launch_func
// CHECK-LABEL: .entry heads_absorbed_uk(
// CHECK:       .shared .align {{[0-9]+}} .b8 {{.*}}[8192];
// CHECK:       ld.global.v2.b32
// CHECK:       cvt.rn.f16x2.e4m3x2
// CHECK:       bar.sync
// CHECK-LABEL: .entry heads_absorbed_uv(
// CHECK:       ld.global.v2.b32
// CHECK:       ld.global.v4.b32
// CHECK:       bar.sync
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads

#lhs = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#uk = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
#uv = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#out = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
func.func @heads(%q: tensor<1x1x128x128xbf16>, %lat: tensor<1x1x128x512xbf16>,
                 %w: tensor<32768x512xf8E4M3FN>, %s: tensor<256x4xf32>)
    -> (tensor<1x1x128x512xf32>, tensor<1x1x128x128xf32>) {
  %zero = arith.constant 0.0 : f32
  %deq = dsv3.dequantize %w, %s block [128, 128]
      : tensor<32768x512xf8E4M3FN>, tensor<256x4xf32> -> tensor<32768x512xbf16>
  %e = tensor.expand_shape %deq [[0, 1], [2]] output_shape [128, 256, 512]
      : tensor<32768x512xbf16> into tensor<128x256x512xbf16>
  %wuk = tensor.extract_slice %e[0, 0, 0] [128, 128, 512] [1, 1, 1]
      : tensor<128x256x512xbf16> to tensor<128x128x512xbf16>
  %wuv = tensor.extract_slice %e[0, 128, 0] [128, 128, 512] [1, 1, 1]
      : tensor<128x256x512xbf16> to tensor<128x128x512xbf16>
  %e1 = tensor.empty() : tensor<1x1x128x512xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x1x128x512xf32>) -> tensor<1x1x128x512xf32>
  %qabs = linalg.generic {indexing_maps = [#lhs, #uk, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %wuk : tensor<1x1x128x128xbf16>, tensor<128x128x512xbf16>)
      outs(%z1 : tensor<1x1x128x512xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x1x128x512xf32>
  %e2 = tensor.empty() : tensor<1x1x128x128xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x1x128x128xf32>) -> tensor<1x1x128x128xf32>
  %o = linalg.generic {indexing_maps = [#lhs, #uv, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%lat, %wuv : tensor<1x1x128x512xbf16>, tensor<128x128x512xbf16>)
      outs(%z2 : tensor<1x1x128x128xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x1x128x128xf32>
  return %qabs, %o : tensor<1x1x128x512xf32>, tensor<1x1x128x128xf32>
}
