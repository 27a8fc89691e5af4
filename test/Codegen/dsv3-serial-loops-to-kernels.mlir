// RUN: dsv3-opt %s --dsv3-serial-loops-to-kernels --split-input-file | FileCheck %s

// The sum of squares of one row (rms_norm of a single decode token): the unit
// parallel loop was folded, leaving a serial loop and the accumulator's
// initialising store (with the constant only it uses) in host code. Both go back into one-iteration
// scf.parallel loops (one-thread kernels); the existing parallel loop is left
// alone.
// CHECK-LABEL: func.func @one_row
// CHECK:       %[[ACC:.*]] = memref.alloc() : memref<1xf32>
// CHECK:       scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step
// CHECK:         memref.store %{{.*}}, %[[ACC]][%{{.*}}] : memref<1xf32>
// CHECK:       scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step
// CHECK-NEXT:    scf.for
// CHECK:           memref.load %arg0
// CHECK:       scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step
// CHECK-NOT:     scf.parallel
// CHECK:         arith.mulf
func.func @one_row(%x: memref<1x1536xf32>, %y: memref<1x1536xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1536 = arith.constant 1536 : index
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<1xf32>
  memref.store %zero, %acc[%c0] : memref<1xf32>
  scf.for %k = %c0 to %c1536 step %c1 {
    %v = memref.load %x[%c0, %k] : memref<1x1536xf32>
    %a = memref.load %acc[%c0] : memref<1xf32>
    %sq = arith.mulf %v, %v : f32
    %s = arith.addf %a, %sq : f32
    memref.store %s, %acc[%c0] : memref<1xf32>
  }
  scf.parallel (%j) = (%c0) to (%c1536) step (%c1) {
    %v = memref.load %x[%c0, %j] : memref<1x1536xf32>
    %a = memref.load %acc[%c0] : memref<1xf32>
    %r = arith.mulf %v, %a : f32
    memref.store %r, %y[%c0, %j] : memref<1x1536xf32>
    scf.reduce
  }
  memref.dealloc %acc : memref<1xf32>
  return
}

// -----

// A one-element copy: the store takes along the load that only feeds it.
// CHECK-LABEL: func.func @copy_one
// CHECK:       scf.parallel
// CHECK:         %[[V:.*]] = memref.load %arg0
// CHECK-NEXT:    memref.store %[[V]], %arg1
func.func @copy_one(%a: memref<1xf32>, %b: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %v = memref.load %a[%c0] : memref<1xf32>
  memref.store %v, %b[%c0] : memref<1xf32>
  return
}
