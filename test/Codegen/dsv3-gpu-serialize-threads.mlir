// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-serialize-threads --cse | FileCheck %s

// Each thread phase becomes a serial loop nest, in order; the block forall
// stays (blocks run on the host's threads); the shared buffer is ordinary
// memory, written by every thread of phase 1 before phase 2 reads it.
// CHECK-LABEL: func.func @two_phases
// CHECK:       scf.forall (%[[B:.*]]) in (3)
// CHECK:         scf.for %[[R:.*]] = %c0 to %c2 step %c1
// CHECK:           scf.for %[[L:.*]] = %c0 to %c4 step %c1
// CHECK:             memref.store %{{.*}}, %{{.*}}[%[[R]], %[[L]]]
// CHECK:         scf.for %[[R2:.*]] = %c0 to %c2 step %c1
// CHECK:           memref.load %{{.*}}[%[[R2]], %c0]
// CHECK:       } {mapping = [#gpu.block<x>]}
// CHECK-NOT:   #gpu.thread
func.func @two_phases(%out: memref<6xf32>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  scf.forall (%b) in (3) {
    %smem = memref.alloc() : memref<2x4xf32>
    %b2 = arith.muli %b, %c2 : index
    scf.forall (%r, %l) in (2, 4) {
      %v = arith.index_cast %l : index to i32
      %f = arith.sitofp %v : i32 to f32
      memref.store %f, %smem[%r, %l] : memref<2x4xf32>
    } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
    scf.forall (%r) in (2) {
      %row = arith.addi %b2, %r : index
      %p = memref.load %smem[%r, %c0] : memref<2x4xf32>
      memref.store %p, %out[%row] : memref<6xf32>
    } {mapping = [#gpu.thread<x>]}
    memref.dealloc %smem : memref<2x4xf32>
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A warp forall runs its (collective) body once per warp, here on a whole
// 2-D tile.
// CHECK-LABEL: func.func @warps
// CHECK:       scf.forall (%{{.*}}) in (2)
// CHECK:         scf.for %[[W:.*]] = %c0 to %c4 step %c1
// CHECK:           %[[T:.*]] = vector.transfer_read %{{.*}}[%[[W]], %c0, %c0]{{.*}} : memref<4x16x16xf32>, vector<16x16xf32>
// CHECK:           vector.transfer_write %[[T]]
// CHECK:       } {mapping = [#gpu.block<x>]}
// CHECK-NOT:   #gpu.warp
func.func @warps(%in: memref<4x16x16xf32>, %out: memref<4x16x16xf32>) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f32
  scf.forall (%b) in (2) {
    scf.forall (%w) in (4) {
      %t = vector.transfer_read %in[%w, %c0, %c0], %p {in_bounds = [true, true]} : memref<4x16x16xf32>, vector<16x16xf32>
      vector.transfer_write %t, %out[%w, %c0, %c0] {in_bounds = [true, true]} : vector<16x16xf32>, memref<4x16x16xf32>
    } {mapping = [#gpu.warp<linear_dim_0>]}
  } {mapping = [#gpu.block<x>]}
  return
}
