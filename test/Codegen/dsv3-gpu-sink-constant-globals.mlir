// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --dsv3-gpu-sink-constant-globals | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --dsv3-gpu-sink-constant-globals --gpu-kernel-outlining | FileCheck %s --check-prefix=OUTLINED

// A constant table read by a kernel: the get_global moves into the launch
// (the host's copy stays for host uses), so outlining copies the global into
// the kernel's module instead of passing the host address.
// CHECK-LABEL: func.func @rope_like
// CHECK:         %[[HOST:.*]] = memref.get_global @freqs
// CHECK:         gpu.launch
// CHECK:           %[[DEV:.*]] = memref.get_global @freqs
// CHECK:           memref.load %[[DEV]]
// CHECK:         memref.load %[[HOST]]
// OUTLINED-LABEL: func.func @rope_like
// OUTLINED:       gpu.launch_func @rope_like_kernel::@rope_like_kernel {{.*}} args(%arg0 : memref<4xf32>){{$}}
// OUTLINED:       gpu.module @rope_like_kernel
// OUTLINED:         memref.get_global @freqs
// OUTLINED:         memref.global "private" constant @freqs
module attributes {gpu.container_module} {
  memref.global "private" constant @freqs : memref<4xf32> = dense<[1.0, 0.5, 0.25, 0.125]>
  func.func @rope_like(%m: memref<4xf32>) -> f32 {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %t = memref.get_global @freqs : memref<4xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
      %v = memref.load %t[%tx] : memref<4xf32>
      memref.store %v, %m[%tx] : memref<4xf32>
      gpu.terminator
    }
    %h = memref.load %t[%c0] : memref<4xf32>
    return %h : f32
  }
}

// -----

module attributes {gpu.container_module} {
  memref.global "private" @counters : memref<4xf32> = dense<0.0>
  func.func @mutable(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    // expected-error @+1 {{a kernel uses the mutable host global @counters; kernels read constant globals only}}
    %t = memref.get_global @counters : memref<4xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c4, %sy = %c1, %sz = %c1) {
      %v = memref.load %t[%tx] : memref<4xf32>
      memref.store %v, %m[%tx] : memref<4xf32>
      gpu.terminator
    }
    return
  }
}
