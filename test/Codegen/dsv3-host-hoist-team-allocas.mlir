// RUN: dsv3-opt %s --split-input-file --dsv3-host-hoist-team-allocas | FileCheck %s

// convert-scf-to-openmp's form of a team whose iteration allocates a
// fixed-size scratch buffer: the alloca moves to the start of the
// omp.parallel region (one buffer per thread, allocated once per team),
// out of the alloca_scope around the loop body.
// CHECK-LABEL: func.func @team
// CHECK:       omp.parallel {
// CHECK-NEXT:    %[[BUF:.*]] = memref.alloca() {alignment = 32 : i64} : memref<8x128xi16>
// CHECK-NEXT:    omp.wsloop {
// CHECK:           memref.alloca_scope {
// CHECK-NOT:         memref.alloca()
// CHECK:             vector.store %{{.*}}, %[[BUF]]
// CHECK:             vector.load %[[BUF]]
func.func @team(%out: memref<64x8xi16>, %v: vector<8xi16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c64) step (%c1) {
        memref.alloca_scope {
          %buf = memref.alloca() {alignment = 32 : i64} : memref<8x128xi16>
          vector.store %v, %buf[%c0, %c0] : memref<8x128xi16>, vector<8xi16>
          %r = vector.load %buf[%c0, %c0] : memref<8x128xi16>, vector<8xi16>
          vector.store %r, %out[%i, %c0] : memref<64x8xi16>, vector<8xi16>
        }
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// Outside a team (a serialized loop) the alloca goes to the function's
// entry, so a loop does not take more stack at every iteration.
// CHECK-LABEL: func.func @serial
// CHECK-NEXT:    memref.alloca() : memref<4xf32>
// CHECK:         scf.for
// CHECK-NOT:       memref.alloca
func.func @serial(%n: index, %v: f32, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %buf = memref.alloca() : memref<4xf32>
    memref.store %v, %buf[%c0] : memref<4xf32>
    %r = memref.load %buf[%c0] : memref<4xf32>
    memref.store %r, %out[%i] : memref<?xf32>
  }
  return
}

// -----

// Left alone: a dynamic size; a buffer that leaves its iteration (a yield
// carries it out, so one buffer per iteration may matter); a view of one
// passed to a call; one inside an scf.forall, whose iterations may run at
// once (only omp.parallel gives each thread its own buffer); and one
// already at the top of its function.
// CHECK-LABEL: func.func @stays
// CHECK-NEXT:    memref.alloca() : memref<2xf32>
// CHECK:         scf.for
// CHECK:           memref.alloca(%{{.*}}) : memref<?xf32>
// CHECK:         scf.for
// CHECK:           memref.alloca() : memref<4xf32>
// CHECK:         scf.for
// CHECK:           memref.alloca() : memref<8xf32>
// CHECK:           memref.subview
// CHECK:           call @use
// CHECK:         scf.forall
// CHECK-NEXT:      memref.alloca() : memref<16xf32>
func.func private @use(memref<4xf32, strided<[1]>>)
func.func @stays(%n: index, %v: f32, %init: memref<4xf32>) -> memref<4xf32> {
  %top = memref.alloca() : memref<2xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  memref.store %v, %top[%c0] : memref<2xf32>
  scf.for %i = %c0 to %n step %c1 {
    %buf = memref.alloca(%i) : memref<?xf32>
    memref.store %v, %buf[%c0] : memref<?xf32>
  }
  %last = scf.for %i = %c0 to %n step %c1 iter_args(%prev = %init) -> (memref<4xf32>) {
    %buf = memref.alloca() : memref<4xf32>
    memref.store %v, %buf[%c0] : memref<4xf32>
    scf.yield %buf : memref<4xf32>
  }
  scf.for %i = %c0 to %n step %c1 {
    %buf = memref.alloca() : memref<8xf32>
    %view = memref.subview %buf[0] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1]>>
    func.call @use(%view) : (memref<4xf32, strided<[1]>>) -> ()
  }
  scf.forall (%i) in (%n) {
    %buf = memref.alloca() : memref<16xf32>
    memref.store %v, %buf[%c0] : memref<16xf32>
  }
  return %last : memref<4xf32>
}
