// RUN: dsv3-opt %s --dsv3-collapse-parallel-loops --canonicalize | FileCheck %s

// All dimensions of the outermost loop become one, row-major: the last
// dimension varies fastest, so consecutive iterations touch consecutive
// elements. Inner serial loops are kept.
// CHECK-LABEL: func.func @rank3
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C5:.*]] = arith.constant 5 : index
// CHECK-DAG: %[[C6:.*]] = arith.constant 6 : index
// CHECK-DAG: %[[C120:.*]] = arith.constant 120 : index
// CHECK: scf.parallel (%[[I:.*]]) = (%[[C0]]) to (%[[C120]]) step (%[[C1]]) {
// CHECK:   %[[K:.*]] = arith.remsi %[[I]], %[[C5]]
// CHECK:   %[[Q:.*]] = arith.divsi %[[I]], %[[C5]]
// CHECK:   %[[J:.*]] = arith.remsi %[[Q]], %[[C6]]
// CHECK:   %[[II:.*]] = arith.divsi %[[Q]], %[[C6]]
// CHECK:   scf.for
// CHECK:     memref.load %{{.*}}[%[[II]], %[[J]], %[[K]], %{{.*}}]
// CHECK-NOT: scf.parallel
func.func @rank3(%x: memref<4x6x5x8xf32>, %out: memref<4x6x5xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c5 = arith.constant 5 : index
  %c6 = arith.constant 6 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c4, %c6, %c5) step (%c1, %c1, %c1) {
    scf.for %r = %c0 to %c8 step %c1 {
      %v = memref.load %x[%i, %j, %k, %r] : memref<4x6x5x8xf32>
      %a = memref.load %out[%i, %j, %k] : memref<4x6x5xf32>
      %s = arith.addf %a, %v : f32
      memref.store %s, %out[%i, %j, %k] : memref<4x6x5xf32>
    }
    scf.reduce
  }
  return
}

// Loops with reductions are not collapsed.
// CHECK-LABEL: func.func @reduction
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) =
func.func @reduction(%x: memref<4x6xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c6 = arith.constant 6 : index
  %zero = arith.constant 0.0 : f32
  %r = scf.parallel (%i, %j) = (%c0, %c0) to (%c4, %c6) step (%c1, %c1) init (%zero) -> f32 {
    %v = memref.load %x[%i, %j] : memref<4x6xf32>
    scf.reduce(%v : f32) {
    ^bb0(%a: f32, %b: f32):
      %s = arith.addf %a, %b : f32
      scf.reduce.return %s : f32
    }
  }
  return %r : f32
}
