// RUN: dsv3-opt %s --dsv3-name-kernels | FileCheck %s

// Outlined kernels take the name most of their ops carry, after the host
// function: the second kernel from the same op is numbered, a name already
// taken (@decode_linear_q_a_proj_fp8_1, a function here) is skipped, and a
// kernel whose ops carry no name keeps its own. Launches follow.
// CHECK-LABEL: func.func @decode
// CHECK:       gpu.launch_func @decode_linear_q_a_proj_fp8::@decode_linear_q_a_proj_fp8
// CHECK:       gpu.launch_func @decode_linear_q_a_proj_fp8_2::@decode_linear_q_a_proj_fp8_2
// CHECK:       gpu.launch_func @decode_kernel_1::@decode_kernel
// CHECK:       gpu.launch_func @decode_rms_norm_q_a_layernorm::@decode_rms_norm_q_a_layernorm
// CHECK:       gpu.module @decode_linear_q_a_proj_fp8 {
// CHECK-NEXT:    gpu.func @decode_linear_q_a_proj_fp8(
// CHECK:       gpu.module @decode_linear_q_a_proj_fp8_2 {
// CHECK-NEXT:    gpu.func @decode_linear_q_a_proj_fp8_2(
// CHECK:       gpu.module @decode_kernel_1 {
// CHECK-NEXT:    gpu.func @decode_kernel(
// CHECK:       gpu.module @decode_rms_norm_q_a_layernorm {
// CHECK-NEXT:    gpu.func @decode_rms_norm_q_a_layernorm(
module attributes {gpu.container_module} {
  func.func @decode(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @decode_kernel::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @decode_kernel_0::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @decode_kernel_1::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    gpu.launch_func @decode_kernel_2::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%m : memref<4xf32>)
    return
  }
  func.func private @decode_linear_q_a_proj_fp8_1()
  gpu.module @decode_kernel {
    gpu.func @decode_kernel(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      %v = arith.constant 0.0 : f32 loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      memref.store %v, %m[%c0] : memref<4xf32> loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      gpu.return
    }
  }
  gpu.module @decode_kernel_0 {
    gpu.func @decode_kernel(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index loc(fused["a.mlir":2:1, "copy"("a.mlir":2:1)])
      %v = memref.load %m[%c0] : memref<4xf32> loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      %w = arith.addf %v, %v : f32 loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      memref.store %w, %m[%c0] : memref<4xf32> loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      gpu.return
    }
  }
  gpu.module @decode_kernel_1 {
    gpu.func @decode_kernel(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @decode_kernel_2 {
    gpu.func @decode_kernel(%m: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index loc(fused["a.mlir":3:1, "rms_norm_q_a_layernorm"("a.mlir":3:1)])
      %v = memref.load %m[%c0] : memref<4xf32> loc("rms_norm_q_a_layernorm"("a.mlir":3:1))
      gpu.return
    }
  }
}
