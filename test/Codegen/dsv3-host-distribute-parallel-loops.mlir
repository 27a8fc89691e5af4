// RUN: dsv3-opt %s --split-input-file --dsv3-host-distribute-parallel-loops | FileCheck %s

// The outermost loop of an op is the team, split over its first dimension
// (each thread's inner loops stay plain counted loops); the loop nested in
// it runs inside each iteration, in order.
// CHECK-LABEL: func.func @nest
// CHECK:       scf.parallel (%[[I:.*]]) = (%c0) to (%c4) step (%c1)
// CHECK:         scf.for %[[J:.*]] = %c0 to %c8 step %c1
// CHECK:           scf.for %[[K:.*]] = %c0 to %c16 step %c1
// CHECK:             scf.for %[[L:.*]] = %c0 to %c2 step %c1
// CHECK:               memref.store {{.*}}[%[[I]], %[[J]], %[[K]], %[[L]]]
// CHECK-NOT:   scf.parallel
func.func @nest(%m: memref<4x8x16x2xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c8) step (%c1, %c1) {
    scf.for %k = %c0 to %c16 step %c1 {
      scf.parallel (%l) = (%c0) to (%c2) step (%c1) {
        memref.store %v, %m[%i, %j, %k, %l] : memref<4x8x16x2xf32>
      }
    }
  }
  return
}

// -----

// The module's allocator unwinds the calling thread on failure: a body that
// allocates stays on it (and so does a body that calls, or has an alloca of
// dynamic shape). A fixed-size alloca (a kernel's scratch buffer) keeps the
// team: dsv3-host-hoist-team-allocas makes it one buffer per thread.
// CHECK-LABEL: func.func @allocates
// CHECK-NOT:   scf.parallel
// CHECK:       scf.for
// CHECK:         memref.alloc
// CHECK-LABEL: func.func @calls
// CHECK-NOT:   scf.parallel
// CHECK:       scf.for
// CHECK:         call @g
// CHECK-LABEL: func.func @alloca_dynamic
// CHECK-NOT:   scf.parallel
// CHECK:       scf.for
// CHECK:         memref.alloca(%{{.*}}) : memref<?xf32>
// CHECK-LABEL: func.func @alloca_static
// CHECK:       scf.parallel
// CHECK:         memref.alloca() : memref<8x128xi16>
func.func @allocates(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %b = memref.alloc(%i) : memref<?xf32>
    memref.dealloc %b : memref<?xf32>
  }
  return
}
func.func private @g(index)
func.func @calls(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    func.call @g(%i) : (index) -> ()
  }
  return
}
func.func @alloca_dynamic(%n: index, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %b = memref.alloca(%i) : memref<?xf32>
    memref.store %v, %b[%c0] : memref<?xf32>
  }
  return
}
func.func @alloca_static(%n: index, %v: i16) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %b = memref.alloca() : memref<8x128xi16>
    memref.store %v, %b[%c0, %c0] : memref<8x128xi16>
  }
  return
}

// -----

// A loop of one iteration is not a team; a nested loop gets its chance.
// A dynamic trip count is the team's to split at run time.
// CHECK-LABEL: func.func @one_trip
// CHECK:       scf.for %{{.*}} = %c0 to %c1 step %c1
// CHECK:         scf.parallel (%{{.*}}) = (%c0) to (%{{.*}})
func.func @one_trip(%m: memref<1x?xf32>, %n: index, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.parallel (%i) = (%c0) to (%c1) step (%c1) {
    scf.parallel (%j) = (%c0) to (%n) step (%c1) {
      memref.store %v, %m[%i, %j] : memref<1x?xf32>
    }
  }
  return
}

// -----

// A [1, N] op: the team splits N; the unit dimension is its lower bound.
// CHECK-LABEL: func.func @row
// CHECK-NOT:   scf.for
// CHECK:       scf.parallel (%[[J:.*]]) = (%c0) to (%c7168) step (%c1)
// CHECK-NEXT:    memref.store %{{.*}}[%c0, %[[J]]]
func.func @row(%m: memref<1x7168xf32>, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c7168 = arith.constant 7168 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c1, %c7168) step (%c1, %c1) {
    memref.store %v, %m[%i, %j] : memref<1x7168xf32>
  }
  return
}

// -----

// Reductions are left to upstream's lowering.
// CHECK-LABEL: func.func @reduction
// CHECK:       scf.parallel
// CHECK:         scf.reduce
func.func @reduction(%m: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  %r = scf.parallel (%i) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
    %x = memref.load %m[%i] : memref<8xf32>
    scf.reduce(%x : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %r : f32
}
