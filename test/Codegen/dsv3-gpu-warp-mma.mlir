// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-warp-mma --cse | FileCheck %s

// One warp's part of the tiled GEMM's product phase: 8 steps of an
// m16n8k16 product of a bf16 activation tile and an FP8 weight tile (both
// widened to f32), then the promotion of the [16, 8] sum into the shared
// running result. Each tile becomes the lane's pieces: lane l holds row
// g = l / 4 and columns 2 (l % 4) .. + 1 of every 8 x 8 block, so A is 4
// pairs (rows g and g + 8, columns c and c + 8), B 2 pairs (columns c and
// c + 8 of weight row g), C 2 pairs (rows g and g + 8). The contract is one
// mma.sync on the bf16 pairs (the FP8 values are exact in bf16), the loop
// carries the accumulator's 2 pairs, and the promotion is elementwise on
// them with 8-byte loads and stores.
// CHECK-LABEL: func.func @bf16_fp8
// CHECK:       scf.forall (%[[W:.*]]) in (8)
// CHECK:         %[[LANE:.*]] = gpu.lane_id
// CHECK:         %[[T:.*]] = arith.remui %[[LANE]], %c4
// CHECK:         %[[PAIR:.*]] = arith.muli %[[T]], %c2
// CHECK:         %[[G:.*]] = arith.divui %[[LANE]], %c4
// CHECK:         %[[R0:.*]] = arith.muli %{{.*}}, %c16
// CHECK:         %[[N0:.*]] = arith.muli %{{.*}}, %c32
// CHECK:         %[[Z:.*]] = arith.constant dense<0.000000e+00> : vector<2xf32>
// CHECK:         %[[SUM:.*]]:2 = scf.for %[[KK:.*]] = {{.*}} iter_args(%[[C0:.*]] = %[[Z]], %[[C1:.*]] = %[[Z]]) -> (vector<2xf32>, vector<2xf32>)
// CHECK:           %[[K:.*]] = arith.muli %[[KK]], %c16
// CHECK:           %[[ROW:.*]] = arith.addi %[[R0]], %[[G]]
// CHECK:           %[[COL:.*]] = arith.addi %[[K]], %[[PAIR]]
// CHECK:           %[[A0:.*]] = vector.load %{{.*}}[%[[ROW]], %[[COL]]] {alignment = 4 : i64} : memref<64x136xbf16, #gpu.address_space<workgroup>>, vector<2xbf16>
// CHECK:           %[[ROW8:.*]] = arith.addi %[[ROW]], %c8
// CHECK:           %[[A1:.*]] = vector.load %{{.*}}[%[[ROW8]], %[[COL]]]
// CHECK:           %[[COL8:.*]] = arith.addi %[[COL]], %c8
// CHECK:           %[[A2:.*]] = vector.load %{{.*}}[%[[ROW]], %[[COL8]]]
// CHECK:           %[[A3:.*]] = vector.load %{{.*}}[%[[ROW8]], %[[COL8]]]
// CHECK:           %[[NROW:.*]] = arith.addi %[[N0]], %[[G]]
// CHECK:           %[[B0:.*]] = vector.load %{{.*}}[%[[NROW]], %[[COL]]] {alignment = 2 : i64} : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>>, vector<2xf8E4M3FN>
// CHECK:           %[[B1:.*]] = vector.load %{{.*}}[%[[NROW]], %[[COL8]]]
// CHECK:           %[[B0F:.*]] = arith.extf %[[B0]] : vector<2xf8E4M3FN> to vector<2xf32>
// CHECK:           %[[B0H:.*]] = arith.truncf %[[B0F]] : vector<2xf32> to vector<2xbf16>
// CHECK:           %[[B0I:.*]] = llvm.bitcast %[[B0H]] : vector<2xbf16> to i32
// CHECK:           %[[D:.*]] = nvvm.mma.sync A[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] B[%[[B0I]], %{{.*}}] C[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}]
// CHECK-SAME:        multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK:           %[[D0:.*]] = llvm.extractvalue %[[D]][0]
// CHECK:           %[[D1:.*]] = llvm.extractvalue %[[D]][1]
// CHECK:           %[[D2:.*]] = llvm.extractvalue %[[D]][2]
// CHECK:           %[[D3:.*]] = llvm.extractvalue %[[D]][3]
// CHECK:           %[[P0:.*]] = vector.from_elements %[[D0]], %[[D1]] : vector<2xf32>
// CHECK:           %[[P1:.*]] = vector.from_elements %[[D2]], %[[D3]] : vector<2xf32>
// CHECK:           scf.yield %[[P0]], %[[P1]]
// CHECK:         %[[S:.*]] = vector.broadcast %{{.*}} : f32 to vector<2xf32>
// CHECK:         %[[V0:.*]] = arith.mulf %[[SUM]]#0, %[[S]] : vector<2xf32>
// CHECK:         %[[V1:.*]] = arith.mulf %[[SUM]]#1, %[[S]] : vector<2xf32>
// CHECK:         %[[CROW:.*]] = arith.addi %[[R0]], %[[G]]
// CHECK:         %[[CCOL:.*]] = arith.addi %[[N0]], %[[PAIR]]
// CHECK:         %[[OLD0:.*]] = vector.load %{{.*}}[%[[CROW]], %[[CCOL]]] {alignment = 8 : i64} : memref<64x72xf32, #gpu.address_space<workgroup>>, vector<2xf32>
// CHECK:         %[[CROW8:.*]] = arith.addi %[[CROW]], %c8
// CHECK:         %[[OLD1:.*]] = vector.load %{{.*}}[%[[CROW8]], %[[CCOL]]]
// CHECK:         %[[ADD0:.*]] = arith.addf %[[OLD0]], %[[V0]]
// CHECK:         %[[ADD1:.*]] = arith.addf %[[OLD1]], %[[V1]]
// CHECK:         %[[NEW0:.*]] = arith.select %{{.*}}, %[[V0]], %[[ADD0]] : vector<2xf32>
// CHECK:         %[[NEW1:.*]] = arith.select %{{.*}}, %[[V1]], %[[ADD1]] : vector<2xf32>
// CHECK:         vector.store %[[NEW0]], %{{.*}}[%[[CROW]], %[[CCOL]]] {alignment = 8 : i64}
// CHECK:         vector.store %[[NEW1]], %{{.*}}[%[[CROW8]], %[[CCOL]]] {alignment = 8 : i64}
// CHECK-NOT:     vector.contract
// CHECK-NOT:     vector.transfer
// CHECK:       } {mapping = [#gpu.warp<linear_dim_0>]}
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @bf16_fp8(%xs: memref<64x136xbf16, #gpu.address_space<workgroup>>,
                    %ws: memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>>,
                    %acc: memref<64x72xf32, #gpu.address_space<workgroup>>,
                    %scale: f32, %first: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  %pb = arith.constant 0.0 : bf16
  %pq = arith.constant 0.0 : f8E4M3FN
  %pf = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  scf.forall (%w) in (8) {
    %wm = arith.divui %w, %c2 : index
    %wn = arith.remui %w, %c2 : index
    %r0 = arith.muli %wm, %c16 : index
    %n0 = arith.muli %wn, %c32 : index
    %sum = scf.for %kk = %c0 to %c8 step %c1 iter_args(%s = %zero) -> (vector<16x8xf32>) {
      %k = arith.muli %kk, %c16 : index
      %a = vector.transfer_read %xs[%r0, %k], %pb {in_bounds = [true, true]} : memref<64x136xbf16, #gpu.address_space<workgroup>>, vector<16x16xbf16>
      %af = arith.extf %a : vector<16x16xbf16> to vector<16x16xf32>
      %q = vector.transfer_read %ws[%n0, %k], %pq {in_bounds = [true, true]} : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>>, vector<8x16xf8E4M3FN>
      %qf = arith.extf %q : vector<8x16xf8E4M3FN> to vector<8x16xf32>
      %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %af, %qf, %s : vector<16x16xf32>, vector<8x16xf32> into vector<16x8xf32>
      scf.yield %d : vector<16x8xf32>
    }
    %sc = vector.broadcast %scale : f32 to vector<16x8xf32>
    %v = arith.mulf %sum, %sc : vector<16x8xf32>
    %old = vector.transfer_read %acc[%r0, %n0], %pf {in_bounds = [true, true]} : memref<64x72xf32, #gpu.address_space<workgroup>>, vector<16x8xf32>
    %add = arith.addf %old, %v : vector<16x8xf32>
    %new = arith.select %first, %v, %add : vector<16x8xf32>
    vector.transfer_write %new, %acc[%r0, %n0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<64x72xf32, #gpu.address_space<workgroup>>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

// f16 tiles (no widening) take the f16 mma.sync and stay vector<2xf16>
// pairs; a splat accumulator from outside the warp's code (hoisted by
// canonicalization) gets its pieces inside it.
// CHECK-LABEL: func.func @f16
// CHECK:       scf.forall
// CHECK:         %[[Z:.*]] = arith.constant dense<0.000000e+00> : vector<2xf32>
// CHECK:         nvvm.mma.sync A[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] B[%{{.*}}, %{{.*}}] C[%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}]
// CHECK-SAME:      shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK-COUNT-2: vector.store %{{.*}} : memref<16x8xf32>, vector<2xf32>
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

// -----

// A B operand read transposed from a [k, n] array (a cache's rows as
// columns), with k possibly past the array's rows: each lane loads its two
// elements (keys k0 + 2c and + 1 of channel n0 + g), the padding for a key
// past the rows, without loading it.
// CHECK-LABEL: func.func @transposed
// CHECK:       scf.forall
// CHECK:         %[[LANE:.*]] = gpu.lane_id
// CHECK:         %[[T:.*]] = arith.remui %[[LANE]], %c4
// CHECK:         %[[PAIR:.*]] = arith.muli %[[T]], %c2
// CHECK:         %[[G:.*]] = arith.divui %[[LANE]], %c4
// CHECK:         %[[N:.*]] = arith.addi %arg4, %[[G]]
// CHECK:         %[[K:.*]] = arith.addi %arg3, %[[PAIR]]
// CHECK:         %[[ROWS:.*]] = memref.dim %arg1, %c0
// CHECK:         %[[IN:.*]] = arith.cmpi slt, %[[K]], %[[ROWS]]
// CHECK:         %[[V:.*]] = scf.if %[[IN]] -> (bf16) {
// CHECK:           %[[L:.*]] = memref.load %{{.*}}[%[[K]], %[[N]]] : memref<?x64xbf16>
// CHECK:           scf.yield %[[L]]
// CHECK:         } else {
// CHECK:           scf.yield %{{.*}} : bf16
// CHECK:         vector.from_elements %[[V]], %{{.*}} : vector<2xbf16>
// CHECK:         nvvm.mma.sync
// CHECK-SAME:      multiplicandBPtxType = #nvvm.mma_type<bf16>
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#t = affine_map<(d0, d1) -> (d1, d0)>
func.func @transposed(%p: memref<16x16xbf16>, %v: memref<?x64xbf16>, %out: memref<16x8xf32>, %k0: index, %n0: index) {
  %c0 = arith.constant 0 : index
  %pad = arith.constant 0.0 : bf16
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  scf.forall (%w) in (1) {
    %a = vector.transfer_read %p[%c0, %c0], %pad {in_bounds = [true, true]} : memref<16x16xbf16>, vector<16x16xbf16>
    %b = vector.transfer_read %v[%k0, %n0], %pad {in_bounds = [true, false], permutation_map = #t} : memref<?x64xbf16>, vector<8x16xbf16>
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %b, %zero : vector<16x16xbf16>, vector<8x16xbf16> into vector<16x8xf32>
    vector.transfer_write %d, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<16x8xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}
