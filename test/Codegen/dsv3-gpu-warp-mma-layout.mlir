// REQUIRES: mlir-opt
// RUN: dsv3-opt %s --dsv3-gpu-warp-mma --canonicalize --cse | FileCheck %s
// RUN: mlir-opt %s --convert-vector-to-gpu=use-nvgpu=true --canonicalize --cse | FileCheck %s --check-prefix=UPSTREAM

// dsv3-gpu-warp-mma's fragment layout is the one upstream's vector-to-gpu
// conversion (use-nvgpu, the path IREE's mma.sync pipeline takes) gives the
// same f16 m16n8k16 warp code: with g = lane / 4 and c = 2 (lane % 4), A's
// pairs at (g, c), (g + 8, c), (g, c + 8), (g + 8, c + 8), B's at (g, c),
// (g, c + 8) of the [n, k] tile, and the result's at (g, c), (g + 8, c).
// (Upstream handles f16 only; the bf16 tiles the tiled GEMM needs take the
// same layout, which PTX gives both types.)
// CHECK:       %[[LANE:.*]] = gpu.lane_id
// CHECK:       %[[T:.*]] = arith.remui %[[LANE]], %c4
// CHECK:       %[[C:.*]] = arith.muli %[[T]], %c2
// CHECK:       %[[G:.*]] = arith.divui %[[LANE]], %c4
// CHECK:       vector.load %arg0[%[[G]], %[[C]]]
// CHECK:       %[[G8:.*]] = arith.addi %[[G]], %c8
// CHECK:       vector.load %arg0[%[[G8]], %[[C]]]
// CHECK:       %[[C8:.*]] = arith.addi %[[C]], %c8
// CHECK:       vector.load %arg0[%[[G]], %[[C8]]]
// CHECK:       vector.load %arg0[%[[G8]], %[[C8]]]
// CHECK:       vector.load %arg1[%[[G]], %[[C]]]
// CHECK:       vector.load %arg1[%[[G]], %[[C8]]]
// CHECK:       nvvm.mma.sync
// CHECK:       vector.store %{{.*}}, %arg2[%[[G]], %[[C]]]
// CHECK:       vector.store %{{.*}}, %arg2[%[[G8]], %[[C]]]

// UPSTREAM-DAG: #[[MG:.*]] = affine_map<()[s0] -> (s0 floordiv 4)>
// UPSTREAM-DAG: #[[MC:.*]] = affine_map<()[s0] -> (s0 * 2 - (s0 floordiv 4) * 8)>
// UPSTREAM-DAG: #[[MG8:.*]] = affine_map<()[s0] -> (s0 floordiv 4 + 8)>
// UPSTREAM-DAG: #[[MC8:.*]] = affine_map<()[s0] -> (s0 * 2 - (s0 floordiv 4) * 8 + 8)>
// UPSTREAM:     %[[LANE:.*]] = gpu.lane_id
// UPSTREAM:     %[[G:.*]] = affine.apply #[[MG]]()[%[[LANE]]]
// UPSTREAM:     %[[C:.*]] = affine.apply #[[MC]]()[%[[LANE]]]
// UPSTREAM:     vector.load %arg0[%[[G]], %[[C]]]
// UPSTREAM:     %[[G8:.*]] = affine.apply #[[MG8]]()[%[[LANE]]]
// UPSTREAM:     vector.load %arg0[%[[G8]], %[[C]]]
// UPSTREAM:     %[[C8:.*]] = affine.apply #[[MC8]]()[%[[LANE]]]
// UPSTREAM:     vector.load %arg0[%[[G]], %[[C8]]]
// UPSTREAM:     vector.load %arg0[%[[G8]], %[[C8]]]
// UPSTREAM:     vector.load %arg1[%[[G]], %[[C]]]
// UPSTREAM:     vector.load %arg1[%[[G]], %[[C8]]]
// UPSTREAM:     nvgpu.mma.sync
// UPSTREAM:     vector.store %{{.*}}, %arg2[%[[G]], %[[C]]]
// UPSTREAM:     vector.store %{{.*}}, %arg2[%[[G8]], %[[C]]]
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @f16(%xs: memref<16x16xf16>, %ws: memref<8x16xf16>, %out: memref<16x8xf32>) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f16
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  scf.forall (%w) in (1) {
    %a = vector.transfer_read %xs[%c0, %c0], %p {in_bounds = [true, true]} : memref<16x16xf16>, vector<16x16xf16>
    %b = vector.transfer_read %ws[%c0, %c0], %p {in_bounds = [true, true]} : memref<8x16xf16>, vector<8x16xf16>
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %b, %zero : vector<16x16xf16>, vector<8x16xf16> into vector<16x8xf32>
    vector.transfer_write %d, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<16x8xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}
