// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-map-foralls --cse | FileCheck %s

// A block forall holding two thread phases that communicate through a
// shared buffer. The launch has one block per block-forall iteration and
// threads for the largest extent of each thread dimension (x: 4 lanes in
// phase 1, 2 in phase 2 -> 4; y: 2); the shared buffer is a workgroup
// attribution (its dealloc goes); each phase is predicated to its own
// extent (phase 2: x < 2, y < 1) and followed by a barrier. The 16-byte reads at multiples of 16
// bytes of rows 64 bytes long become aligned vector.loads; the read at an
// odd column becomes a vector.load without that promise.
// CHECK-LABEL: func.func @two_phases
// CHECK-DAG:   %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG:   %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG:   %[[C3:.*]] = arith.constant 3 : index
// CHECK-DAG:   %[[C4:.*]] = arith.constant 4 : index
// CHECK:       gpu.launch blocks({{[^)]*}}) in (%arg{{[0-9]+}} = %[[C3]], %arg{{[0-9]+}} = %[[C1]], %arg{{[0-9]+}} = %[[C1]])
// CHECK-SAME:    threads({{[^)]*}}) in (%arg{{[0-9]+}} = %[[C4]], %arg{{[0-9]+}} = %[[C2]], %arg{{[0-9]+}} = %[[C1]])
// CHECK-SAME:    workgroup(%[[SMEM:.*]] : memref<2x4xf32, #gpu.address_space<workgroup>>)
// CHECK:         %[[B:.*]] = gpu.block_id x
// CHECK:         %[[TX:.*]] = gpu.thread_id x
// CHECK:         %[[TY:.*]] = gpu.thread_id y
// CHECK:         vector.load %{{.*}}[%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<6x64xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:         vector.load %{{.*}}[%{{.*}}, %{{.*}}] : memref<6x64xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:         memref.store %{{.*}}, %[[SMEM]][%[[TY]], %[[TX]]]
// CHECK:         gpu.barrier
// CHECK:         %[[XLIVE:.*]] = arith.cmpi ult, %[[TX]], %[[C2]] : index
// CHECK:         %[[YLIVE:.*]] = arith.cmpi ult, %[[TY]], %[[C1]] : index
// CHECK:         %[[LIVE:.*]] = arith.andi %[[XLIVE]], %[[YLIVE]] : i1
// CHECK:         scf.if %[[LIVE]]
// CHECK:           memref.load %[[SMEM]]
// CHECK:         gpu.barrier
// CHECK:         gpu.terminator
// CHECK-NOT:   memref.dealloc
// CHECK-NOT:   scf.forall
func.func @two_phases(%in: memref<6x64xf8E4M3FN>, %out: memref<6xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %pad = arith.constant 0.0 : f8E4M3FN
  scf.forall (%b) in (3) {
    %smem = memref.alloc() : memref<2x4xf32, #gpu.address_space<workgroup>>
    %b2 = arith.muli %b, %c2 : index
    scf.forall (%r, %l) in (2, 4) {
      %row = arith.addi %b2, %r : index
      %k = arith.muli %l, %c16 : index
      %v = vector.transfer_read %in[%row, %k], %pad {in_bounds = [true]} : memref<6x64xf8E4M3FN>, vector<16xf8E4M3FN>
      %odd = arith.addi %k, %c1 : index
      %u = vector.transfer_read %in[%row, %odd], %pad {in_bounds = [true]} : memref<6x64xf8E4M3FN>, vector<8xf8E4M3FN>
      %f = arith.extf %v : vector<16xf8E4M3FN> to vector<16xf32>
      %g = arith.extf %u : vector<8xf8E4M3FN> to vector<8xf32>
      %s = vector.reduction <add>, %f : vector<16xf32> into f32
      %t = vector.reduction <add>, %g, %s : vector<8xf32> into f32
      memref.store %t, %smem[%r, %l] : memref<2x4xf32, #gpu.address_space<workgroup>>
    } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
    scf.forall (%r) in (2) {
      %row = arith.addi %b2, %r : index
      %p = memref.load %smem[%r, %c0] : memref<2x4xf32, #gpu.address_space<workgroup>>
      memref.store %p, %out[%row] : memref<6xf32>
    } {mapping = [#gpu.thread<x>]}
    memref.dealloc %smem : memref<2x4xf32, #gpu.address_space<workgroup>>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// Foralls without a GPU mapping (e.g. split-KV's key tiles) stay.
// CHECK-LABEL: func.func @unmapped
// CHECK:       scf.forall
// CHECK-NOT:   gpu.launch
func.func @unmapped(%out: memref<4xf32>) {
  %z = arith.constant 0.0 : f32
  scf.forall (%i) in (4) {
    memref.store %z, %out[%i] : memref<4xf32>
  }
  return
}

// -----

// Grid dimensions follow the mapping ids, not the forall's order: (y, x)
// over (5, 7) is a 7 x 5 grid whose block_id y is the first index.
// CHECK-LABEL: func.func @y_first
// CHECK-DAG:   %[[C5:.*]] = arith.constant 5 : index
// CHECK-DAG:   %[[C7:.*]] = arith.constant 7 : index
// CHECK:       gpu.launch blocks({{[^)]*}}) in (%arg{{[0-9]+}} = %[[C7]], %arg{{[0-9]+}} = %[[C5]], %arg{{[0-9]+}} = %{{.*}})
// CHECK:         %[[BY:.*]] = gpu.block_id y
// CHECK:         %[[BX:.*]] = gpu.block_id x
// CHECK:         memref.store %{{.*}}, %{{.*}}[%[[BY]], %[[BX]]]
func.func @y_first(%out: memref<5x7xf32>) {
  %z = arith.constant 0.0 : f32
  scf.forall (%i, %j) in (5, 7) {
    memref.store %z, %out[%i, %j] : memref<5x7xf32>
  } {mapping = [#gpu.block<y>, #gpu.block<x>]}
  return
}

// -----

// A dynamic block count (a prompt's token tiles) is the launch's grid x
// extent. Vector writes become vector.stores; into a strided subview of a
// shared buffer they keep the alignment the subview's unit-stride last
// offset and the buffer's rows allow (16 bytes for bf16 at columns 8 t in
// 128-element rows; 8 bytes for FP8 at columns 8 t in 136-byte rows), and a
// clamped index (minsi of multiples) keeps the 16-byte global read's.
// CHECK-LABEL: func.func @dynamic_grid_stores
// CHECK-SAME:    (%[[N:.*]]: index,
// CHECK:       gpu.launch blocks({{[^)]*}}) in (%arg{{[0-9]+}} = %[[N]],
// CHECK:         vector.load %{{.*}} {alignment = 16 : i64} : memref<?x128xbf16>, vector<8xbf16>
// CHECK:         vector.store %{{.*}} {alignment = 16 : i64} : memref<4x8xbf16, strided<[2048, 1], offset: ?>, #gpu.address_space<workgroup>>, vector<8xbf16>
// CHECK:         vector.store %{{.*}} {alignment = 8 : i64} : memref<4x8xf8E4M3FN, strided<[2176, 1], offset: ?>, #gpu.address_space<workgroup>>, vector<8xf8E4M3FN>
// CHECK:         vector.store %{{.*}} : memref<4x8xf8E4M3FN, strided<[2176, 1], offset: ?>, #gpu.address_space<workgroup>>, vector<8xf8E4M3FN>
func.func @dynamic_grid_stores(%n: index, %x: memref<?x128xbf16>, %w: memref<64x136xf8E4M3FN>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c120 = arith.constant 120 : index
  %pad = arith.constant 0.0 : bf16
  %wpad = arith.constant 0.0 : f8E4M3FN
  scf.forall (%b) in (%n) {
    %xs = memref.alloc() : memref<64x128xbf16, #gpu.address_space<workgroup>>
    %ws = memref.alloc() : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>>
    scf.forall (%ty, %tx) in (16, 16) {
      %col = arith.muli %tx, %c8 : index
      %clamped = arith.minsi %col, %c120 : index
      %v = vector.transfer_read %x[%b, %clamped], %pad {in_bounds = [true]} : memref<?x128xbf16>, vector<8xbf16>
      %xslot = memref.subview %xs[%ty, %col] [4, 8] [16, 1] : memref<64x128xbf16, #gpu.address_space<workgroup>> to memref<4x8xbf16, strided<[2048, 1], offset: ?>, #gpu.address_space<workgroup>>
      vector.transfer_write %v, %xslot[%c0, %c0] {in_bounds = [true]} : vector<8xbf16>, memref<4x8xbf16, strided<[2048, 1], offset: ?>, #gpu.address_space<workgroup>>
      %u = vector.transfer_read %w[%ty, %col], %wpad {in_bounds = [true]} : memref<64x136xf8E4M3FN>, vector<8xf8E4M3FN>
      %wslot = memref.subview %ws[%ty, %col] [4, 8] [16, 1] : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>> to memref<4x8xf8E4M3FN, strided<[2176, 1], offset: ?>, #gpu.address_space<workgroup>>
      vector.transfer_write %u, %wslot[%c1, %c0] {in_bounds = [true]} : vector<8xf8E4M3FN>, memref<4x8xf8E4M3FN, strided<[2176, 1], offset: ?>, #gpu.address_space<workgroup>>
      %odd = arith.addi %col, %c1 : index
      %wodd = memref.subview %ws[%ty, %odd] [4, 8] [16, 1] : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>> to memref<4x8xf8E4M3FN, strided<[2176, 1], offset: ?>, #gpu.address_space<workgroup>>
      vector.transfer_write %u, %wodd[%c0, %c0] {in_bounds = [true]} : vector<8xf8E4M3FN>, memref<4x8xf8E4M3FN, strided<[2176, 1], offset: ?>, #gpu.address_space<workgroup>>
    } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A warp forall (a warp's collective code) takes the block's threads in
// linear order: warp (tx + 16 ty) / 32 of the 16 x 16 block, all 32 lanes
// running its body, with a barrier after it like any phase.
// CHECK-DAG:   #[[WARP:.*]] = affine_map<()[s0, s1, s2] -> (s2 * 8 + (s0 + s1 * 16) floordiv 32)>
// CHECK-LABEL: func.func @warps
// CHECK:       gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c16, %{{.*}} = %c16, %{{.*}} = %c1)
// CHECK:         %[[TX:.*]] = gpu.thread_id  x
// CHECK:         %[[TY:.*]] = gpu.thread_id  y
// CHECK:         gpu.barrier
// CHECK:         %[[W:.*]] = affine.apply #[[WARP]]()[%[[TX]], %[[TY]], %c0]
// CHECK:         %[[L:.*]] = gpu.lane_id
// CHECK:         memref.store %{{.*}}, %{{.*}}[%[[W]], %[[L]]]
// CHECK:         gpu.barrier
func.func @warps(%out: memref<8x32xf32>) {
  %z = arith.constant 0.0 : f32
  scf.forall (%b) in (4) {
    scf.forall (%y, %x) in (16, 16) {
      memref.store %z, %out[%y, %x] : memref<8x32xf32>
    } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
    scf.forall (%w) in (8) {
      %l = gpu.lane_id
      memref.store %z, %out[%w, %l] : memref<8x32xf32>
    } {mapping = [#gpu.warp<linear_dim_0>]}
  } {mapping = [#gpu.block<x>]}
  return
}
