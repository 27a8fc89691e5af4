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

// -----

// The deallocation pipeline's run-time alias check stays on the host: the
// address and flag buffers, the helper's loads and stores (its arguments
// only ever get those buffers), and their deallocs. The buffers it decides
// about are device buffers, freed on the device.
// CHECK-LABEL: func.func private @helper
// CHECK-NOT:     gpu.
// CHECK:         return
func.func private @helper(%ptrs: memref<?xindex>, %out: memref<?xi1>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %ptrs, %c0 : memref<?xindex>
  scf.for %i = %c0 to %n step %c1 {
    %p = memref.load %ptrs[%i] : memref<?xindex>
    %nz = arith.cmpi ne, %p, %c0 : index
    memref.store %nz, %out[%i] : memref<?xi1>
  }
  return
}

// CHECK-LABEL: func.func @alias_check
// CHECK:         %[[B:.*]] = gpu.alloc (%{{.*}}) : memref<?xf32>
// CHECK:         gpu.launch
// CHECK:         %[[P:.*]] = memref.alloc() : memref<1xindex>
// CHECK:         %[[F:.*]] = memref.alloc() : memref<1xi1>
// CHECK:         memref.store %{{.*}}, %[[P]]
// CHECK:         call @helper
// CHECK:         %[[C:.*]] = memref.load %[[F]]
// CHECK:         scf.if %[[C]] {
// CHECK-NEXT:      gpu.dealloc %[[B]] : memref<?xf32>
// CHECK:         memref.dealloc %[[P]] : memref<1xindex>
// CHECK:         memref.dealloc %[[F]] : memref<1xi1>
func.func @alias_check(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = memref.alloc(%n) : memref<?xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %z = arith.constant 0.0 : f32
    memref.store %z, %b[%tx] : memref<?xf32>
    gpu.terminator
  }
  %ptrs = memref.alloc() : memref<1xindex>
  %flags = memref.alloc() : memref<1xi1>
  %p = memref.extract_aligned_pointer_as_index %b : memref<?xf32> -> index
  memref.store %p, %ptrs[%c0] : memref<1xindex>
  %pc = memref.cast %ptrs : memref<1xindex> to memref<?xindex>
  %fc = memref.cast %flags : memref<1xi1> to memref<?xi1>
  call @helper(%pc, %fc) : (memref<?xindex>, memref<?xi1>) -> ()
  %free = memref.load %flags[%c0] : memref<1xi1>
  scf.if %free {
    memref.dealloc %b : memref<?xf32>
  }
  memref.dealloc %ptrs : memref<1xindex>
  memref.dealloc %flags : memref<1xi1>
  return
}

// -----

// A private function whose argument one caller fills from device memory is
// not host-only: its host loads are errors, as in an entry.
func.func private @reads(%x: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{host code of a cuda module accesses device memory}}
  %v = memref.load %x[%c0] : memref<4xf32>
  return %v : f32
}

func.func @caller(%x: memref<4xf32>) -> f32 {
  %v = call @reads(%x) : (memref<4xf32>) -> f32
  return %v : f32
}
