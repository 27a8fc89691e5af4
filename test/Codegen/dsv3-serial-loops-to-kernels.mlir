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

// -----

// Serial code over host-only buffers (the deallocation pipeline's alias
// check: its flag buffer and the helper's loop) stays in host code.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT:     scf.parallel
// CHECK:         return
func.func private @helper(%flags: memref<?xi1>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %false = arith.constant false
  %n = memref.dim %flags, %c0 : memref<?xi1>
  scf.for %i = %c0 to %n step %c1 {
    memref.store %false, %flags[%i] : memref<?xi1>
  }
  return
}

// CHECK-LABEL: func.func @alias_check
// CHECK-NOT:     scf.parallel
// CHECK:         return
func.func @alias_check() -> i1 {
  %c0 = arith.constant 0 : index
  %true = arith.constant true
  %flags = memref.alloc() : memref<1xi1>
  memref.store %true, %flags[%c0] : memref<1xi1>
  %cast = memref.cast %flags : memref<1xi1> to memref<?xi1>
  call @helper(%cast) : (memref<?xi1>) -> ()
  %f = memref.load %flags[%c0] : memref<1xi1>
  memref.dealloc %flags : memref<1xi1>
  return %f : i1
}

// -----

// A buffer only serial loops touch is still a device buffer once one of
// those loops reads it into an entry argument: both loops become kernels.
// CHECK-LABEL: func.func @chain
// CHECK:         scf.parallel
// CHECK-NEXT:      scf.for
// CHECK:             memref.store %{{.*}}, %[[T:.*]][
// CHECK:         scf.parallel
// CHECK-NEXT:      scf.for
// CHECK:             memref.load %[[T]]
func.func @chain(%out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %one = arith.constant 1.0 : f32
  %t = memref.alloc() : memref<4xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    memref.store %one, %t[%i] : memref<4xf32>
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %t[%i] : memref<4xf32>
    memref.store %v, %out[%i] : memref<4xf32>
  }
  memref.dealloc %t : memref<4xf32>
  return
}
