// RUN: dsv3-opt %s --dsv3-host-allocs-to-gpu --split-input-file --verify-diagnostics | FileCheck %s

// Host temporaries become device memory; views of them stay on the host
// (they only build descriptors); code inside gpu.launch is not touched.
// CHECK-LABEL: func.func @temporaries
// CHECK-SAME: (%[[N:.*]]: index
// CHECK: %[[A:.*]] = gpu.alloc  () : memref<4x128xf8E4M3FN>
// CHECK: %[[D:.*]] = gpu.alloc  (%[[N]]) : memref<?xf32>
// CHECK: %[[S:.*]] = gpu.alloc  () : memref<16xi8>
// CHECK: memref.collapse_shape %[[A]]
// CHECK: gpu.launch
// CHECK:   memref.alloca() : memref<2xf32>
// CHECK:   memref.store
// CHECK: gpu.dealloc  %[[A]] : memref<4x128xf8E4M3FN>
// CHECK: gpu.dealloc  %[[D]] : memref<?xf32>
// CHECK: gpu.dealloc  %[[S]] : memref<16xi8>
// CHECK-NEXT: return
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.dealloc
func.func @temporaries(%n: index, %out: memref<512xf8E4M3FN>) {
  %c1 = arith.constant 1 : index
  %a = memref.alloc() {alignment = 64 : i64} : memref<4x128xf8E4M3FN>
  %d = memref.alloc(%n) : memref<?xf32>
  %s = memref.alloca() : memref<16xi8>
  %flat = memref.collapse_shape %a [[0, 1]] : memref<4x128xf8E4M3FN> into memref<512xf8E4M3FN>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %t = memref.alloca() : memref<2xf32>
    %v = memref.load %flat[%tx] : memref<512xf8E4M3FN>
    memref.store %v, %out[%tx] : memref<512xf8E4M3FN>
    gpu.terminator
  }
  memref.dealloc %a : memref<4x128xf8E4M3FN>
  memref.dealloc %d : memref<?xf32>
  return
}

// -----

// Host code that still reads device memory is an error, not a crash at run
// time.
func.func @host_access(%x: memref<4xf32>, %out: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{host code of a cuda module accesses device memory (an op that was not mapped to a kernel)}}
  %v = memref.load %x[%c0] : memref<4xf32>
  // expected-error @+1 {{host code of a cuda module accesses device memory}}
  memref.store %v, %out[%c0] : memref<4xf32>
  return
}
