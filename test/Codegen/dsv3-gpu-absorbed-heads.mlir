// RUN: dsv3-opt %s --dsv3-gpu-absorbed-heads | FileCheck %s
// RUN: dsv3-opt %s --dsv3-gpu-absorbed-heads=max-tokens=1 | FileCheck %s --check-prefix=LIMIT

// Absorbed MLA's two per-head products with an FP8 kv_b_proj (4 heads of
// 128 + 128 rows, C = 256) for 2 tokens: each becomes one kernel reading
// the codes (vector<8xf8E4M3FN>) and the block scale, rounding each
// dequantized value to bf16 and back as dsv3.dequantize does.
// W_UK: a block per head; phase 1, threads (split q of 4, column group x of
// 32) sum 32 rows each into shared [4, 2, 32, 8] partials; phase 2, thread x
// adds the 4 splits in order into the result viewed as [2, 4, 32, 8].
// CHECK-LABEL: func.func @heads
// CHECK:       scf.forall (%[[H:.*]]) in (4) shared_outs
// CHECK:         bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<4x2x32x8xf32>
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (4, 32)
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} -> (vector<8xf32>, vector<8xf32>)
// CHECK:             vector.transfer_read %{{.*}} : tensor<1024x256xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:             arith.extf %{{.*}} : vector<8xf8E4M3FN> to vector<8xf32>
// CHECK:             tensor.extract %{{.*}} : tensor<8x2xf32>
// CHECK:             arith.truncf %{{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         scf.forall (%{{.*}}) in (32)
// CHECK:         } {mapping = [#gpu.thread<x>]}
// A launch reads the heads' 4 x 128 x 256 codes, half of the scales (their
// rows' share), x, and writes the f32 result; 2 flops per product.
// CHECK:       } {dsv3.kernel_cost = {bytes = 141344 : i64, flops = 524288 : i64}, mapping = [#gpu.block<x>]}
// W_UVᵀ: a block per (8 rows, head), a warp per row: lane l reads columns
// 8l (one step of 256 covers C); then thread (row, token) adds the lanes.
// CHECK:       scf.forall (%{{.*}}, %{{.*}}) in (16, 4) shared_outs
// CHECK:         bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<8x32x2xf32>
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (8, 32)
// CHECK:           vector.transfer_read %{{.*}} : tensor<1024x256xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK-COUNT-2:   vector.transfer_read %{{.*}} : tensor<2x4x256xbf16>, vector<8xbf16>
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (8, 2)
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c32
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:       } {dsv3.kernel_cost = {bytes = 139296 : i64, flops = 524288 : i64}, mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK-NOT:   linalg.generic
// More tokens than max-tokens: the definition's contractions stay.
// LIMIT-LABEL: func.func @heads
// LIMIT-COUNT-2: linalg.generic

#lhs = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#uk = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
#uv = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#out = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
#out4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @heads(%q: tensor<1x2x4x128xbf16>, %lat: tensor<1x2x4x256xbf16>,
                 %w: tensor<1024x256xf8E4M3FN>, %s: tensor<8x2xf32>)
    -> (tensor<1x2x4x256xf32>, tensor<1x2x4x128xf32>) {
  %zero = arith.constant 0.0 : f32
  %deq = dsv3.dequantize %w, %s block [128, 128]
      : tensor<1024x256xf8E4M3FN>, tensor<8x2xf32> -> tensor<1024x256xbf16>
  %e = tensor.expand_shape %deq [[0, 1], [2]] output_shape [4, 256, 256]
      : tensor<1024x256xbf16> into tensor<4x256x256xbf16>
  %wuk = tensor.extract_slice %e[0, 0, 0] [4, 128, 256] [1, 1, 1]
      : tensor<4x256x256xbf16> to tensor<4x128x256xbf16>
  %wuv = tensor.extract_slice %e[0, 128, 0] [4, 128, 256] [1, 1, 1]
      : tensor<4x256x256xbf16> to tensor<4x128x256xbf16>
  %e1 = tensor.empty() : tensor<1x2x4x256xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x2x4x256xf32>) -> tensor<1x2x4x256xf32>
  %qabs = linalg.generic {indexing_maps = [#lhs, #uk, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %wuk : tensor<1x2x4x128xbf16>, tensor<4x128x256xbf16>)
      outs(%z1 : tensor<1x2x4x256xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x2x4x256xf32>
  %e2 = tensor.empty() : tensor<1x2x4x128xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<1x2x4x128xf32>) -> tensor<1x2x4x128xf32>
  %o = linalg.generic {indexing_maps = [#lhs, #uv, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%lat, %wuv : tensor<1x2x4x256xbf16>, tensor<4x128x256xbf16>)
      outs(%z2 : tensor<1x2x4x128xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x2x4x128xf32>
  return %qabs, %o : tensor<1x2x4x256xf32>, tensor<1x2x4x128xf32>
}

// The absorbed decomposition rounds each product to the activation type in
// an elementwise generic of its own; the kernel applies it as it writes
// (bf16 results, no f32 product in memory, no kernel for the cast).
// CHECK-LABEL: func.func @rounded
// CHECK:       %[[K:.*]] = scf.forall {{.*}} -> (tensor<2x4x32x8xbf16>)
// CHECK:         arith.truncf %{{.*}} : f32 to bf16
// CHECK:       } {dsv3.kernel_cost = {bytes = 137248 : i64, flops = 524288 : i64}, mapping = [#gpu.block<x>]}
// CHECK-NOT:   linalg.generic
// CHECK:       return %{{.*}} : tensor<1x2x4x256xbf16>
func.func @rounded(%q: tensor<1x2x4x128xbf16>, %w: tensor<1024x256xf8E4M3FN>,
                   %s: tensor<8x2xf32>) -> tensor<1x2x4x256xbf16> {
  %zero = arith.constant 0.0 : f32
  %deq = dsv3.dequantize %w, %s block [128, 128]
      : tensor<1024x256xf8E4M3FN>, tensor<8x2xf32> -> tensor<1024x256xbf16>
  %e = tensor.expand_shape %deq [[0, 1], [2]] output_shape [4, 256, 256]
      : tensor<1024x256xbf16> into tensor<4x256x256xbf16>
  %wuk = tensor.extract_slice %e[0, 0, 0] [4, 128, 256] [1, 1, 1]
      : tensor<4x256x256xbf16> to tensor<4x128x256xbf16>
  %e1 = tensor.empty() : tensor<1x2x4x256xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<1x2x4x256xf32>) -> tensor<1x2x4x256xf32>
  %qabs = linalg.generic {indexing_maps = [#lhs, #uk, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %wuk : tensor<1x2x4x128xbf16>, tensor<4x128x256xbf16>)
      outs(%z1 : tensor<1x2x4x256xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x2x4x256xf32>
  %e2 = tensor.empty() : tensor<1x2x4x256xbf16>
  %r = linalg.generic {indexing_maps = [#out4, #out4],
      iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%qabs : tensor<1x2x4x256xf32>) outs(%e2 : tensor<1x2x4x256xbf16>) {
  ^bb0(%a: f32, %b: bf16):
    %0 = arith.truncf %a : f32 to bf16
    linalg.yield %0 : bf16
  } -> tensor<1x2x4x256xbf16>
  return %r : tensor<1x2x4x256xbf16>
}
