// RUN: dsv3-opt %s --dsv3-host-vectorize-absorbed-heads --canonicalize --split-input-file | FileCheck %s

// Absorbed MLA's two per-head products with kv_b_proj. q_nope · W_UK runs
// over (head, 64 columns) with the head's W_UK rows in order: each 8-code
// vector widened, times its block scale (x 2^8), rounded to bf16 and fed to
// a fused multiply-add. o_lat · W_UVᵀ runs over (head, tile of 8 rows) as 8
// dot products in vector lanes that share each load of o_lat (8 independent
// FMA chains), written as one vector. The dequantized weight is gone. Both
// prefetch the codes through a read-only view: W_UK's row loop the line 16
// rows ahead (clamped to the last row, 511), W_UV the next tile's 8 rows
// (a loop over their 4 lines) before its first token.
// CHECK-LABEL: func.func @absorbed(
// CHECK-SAME:    %[[Q:[^:]*]]: tensor<1x1x2x128xbf16>, %[[LAT:[^:]*]]: tensor<1x1x2x256xbf16>, %[[W:[^:]*]]: tensor<512x256xf8E4M3FN>, %[[S:[^:]*]]: tensor<4x2xf32>)
// CHECK-NOT:     dsv3.dequantize
// CHECK:         %[[VIEW:.*]] = bufferization.to_buffer %[[W]] read_only : tensor<512x256xf8E4M3FN> to memref<512x256xf8E4M3FN, strided<[?, ?], offset: ?>>
// CHECK:         scf.forall (%[[H:.*]], %[[CT:.*]]) in (2, 4)
// CHECK:           %[[C0:.*]] = arith.muli %[[CT]], %c64
// CHECK:           %[[BASE:.*]] = arith.muli %[[H]], %c256
// CHECK:           scf.for %[[J:.*]] = %c0 to %c128 step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:             %[[ROW:.*]] = arith.addi %[[BASE]], %[[J]]
// CHECK:             %[[AHEAD:.*]] = arith.addi %[[ROW]], %c16
// CHECK:             %[[PF:.*]] = arith.minui %[[AHEAD]], %c511
// CHECK:             memref.prefetch %[[VIEW]][%[[PF]], %[[C0]]], read, locality<3>, data
// CHECK-NOT:         memref.prefetch
// CHECK:             tensor.extract %[[Q]][%c0, %c0, %[[H]], %[[J]]]
// CHECK:             vector.transfer_read %[[W]][%[[ROW]], %[[C0]]]
// CHECK:             tensor.extract %[[S]]
// CHECK:             arith.shli
// CHECK:             arith.truncf %{{.*}} : vector<8xf32> to vector<8xbf16>
// CHECK:             vector.fma
// CHECK:         scf.forall (%[[H2:.*]], %[[VT:.*]]) in (2, 16)
// CHECK:           %[[V0:.*]] = arith.muli %[[VT]], %c8
// CHECK:           arith.muli %[[H2]], %c256
// CHECK:           %[[ROW2:.*]] = arith.addi %{{[0-9]+}}, %{{[0-9]+}} : index
// CHECK:           %[[SLICE:.*]] = tensor.extract_slice %{{.*}}[0, 0, %[[H2]], %[[V0]]] [1, 1, 1, 8]
// CHECK:           scf.for %[[LINE:.*]] = %c0 to %c256 step %c64 {
// CHECK:             %[[NEXT:.*]] = arith.addi %[[ROW2]], %c8
// CHECK:             %[[NC:.*]] = arith.minui %[[NEXT]], %c511
// CHECK:             memref.prefetch %[[VIEW2:.*]][%[[NC]], %[[LINE]]], read, locality<3>, data
// CHECK-COUNT-7:     memref.prefetch %[[VIEW2]][%{{.*}}, %[[LINE]]]
// CHECK-NEXT:      }
// CHECK-NOT:       memref.prefetch
// CHECK:           scf.for %[[C:.*]] = %c0 to %c256 step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:             vector.transfer_read %[[LAT]][%c0, %c0, %[[H2]], %[[C]]]
// CHECK:             vector.transfer_read %[[W]][%[[ROW2]], %[[C]]]
// CHECK:             vector.fma
// CHECK-COUNT-7:     vector.fma
// CHECK-NOT:         vector.transfer_read %[[LAT]]
// CHECK:             scf.yield
// CHECK-COUNT-8:   vector.reduction <add>, %{{.*}} fastmath<reassoc>
// CHECK:           %[[SUMS:.*]] = vector.from_elements {{.*}} : vector<8xf32>
// CHECK:           vector.transfer_write %[[SUMS]], %[[SLICE]][%c0, %c0, %c0, %c0] {in_bounds = [true]} : vector<8xf32>, tensor<1x1x1x8xf32>
#lhs = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#uk = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
#uv = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#out = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
func.func @absorbed(%q: tensor<1x1x2x128xbf16>, %lat: tensor<1x1x2x256xbf16>, %w: tensor<512x256xf8E4M3FN>, %s: tensor<4x2xf32>) -> (tensor<1x1x2x256xf32>, tensor<1x1x2x128xf32>) {
  %cst = arith.constant 0.000000e+00 : f32
  %deq = dsv3.dequantize %w, %s block [128, 128] : tensor<512x256xf8E4M3FN>, tensor<4x2xf32> -> tensor<512x256xbf16>
  %e = tensor.expand_shape %deq [[0, 1], [2]] output_shape [2, 256, 256] : tensor<512x256xbf16> into tensor<2x256x256xbf16>
  %wuk = tensor.extract_slice %e[0, 0, 0] [2, 128, 256] [1, 1, 1] : tensor<2x256x256xbf16> to tensor<2x128x256xbf16>
  %wuv = tensor.extract_slice %e[0, 128, 0] [2, 128, 256] [1, 1, 1] : tensor<2x256x256xbf16> to tensor<2x128x256xbf16>
  %z1 = tensor.empty() : tensor<1x1x2x256xf32>
  %f1 = linalg.fill ins(%cst : f32) outs(%z1 : tensor<1x1x2x256xf32>) -> tensor<1x1x2x256xf32>
  %qabs = linalg.generic {indexing_maps = [#lhs, #uk, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%q, %wuk : tensor<1x1x2x128xbf16>, tensor<2x128x256xbf16>) outs(%f1 : tensor<1x1x2x256xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x1x2x256xf32>
  %z2 = tensor.empty() : tensor<1x1x2x128xf32>
  %f2 = linalg.fill ins(%cst : f32) outs(%z2 : tensor<1x1x2x128xf32>) -> tensor<1x1x2x128xf32>
  %o = linalg.generic {indexing_maps = [#lhs, #uv, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%lat, %wuv : tensor<1x1x2x256xbf16>, tensor<2x128x256xbf16>) outs(%f2 : tensor<1x1x2x128xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x1x2x128xf32>
  return %qabs, %o : tensor<1x1x2x256xf32>, tensor<1x1x2x128xf32>
}

// -----

// A product whose weight is not a slice of a dequantized [H·P, C] matrix
// keeps the definition.
#lhs = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#uv = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#out = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @plain_weight(
// CHECK:         linalg.generic
// CHECK-NOT:     scf.forall
func.func @plain_weight(%lat: tensor<1x1x2x256xbf16>, %w: tensor<2x128x256xbf16>) -> tensor<1x1x2x128xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %z = tensor.empty() : tensor<1x1x2x128xf32>
  %f = linalg.fill ins(%cst : f32) outs(%z : tensor<1x1x2x128xf32>) -> tensor<1x1x2x128xf32>
  %o = linalg.generic {indexing_maps = [#lhs, #uv, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%lat, %w : tensor<1x1x2x256xbf16>, tensor<2x128x256xbf16>) outs(%f : tensor<1x1x2x128xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x1x2x128xf32>
  return %o : tensor<1x1x2x128xf32>
}
