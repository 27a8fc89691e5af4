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
