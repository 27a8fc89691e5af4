// RUN: dsv3-opt %s --dsv3-name-kernels | FileCheck %s
// RUN: dsv3-opt %s --dsv3-name-kernels --gpu-kernel-outlining | FileCheck %s --check-prefix=OUTLINED

// Each launch takes the name most of its ops carry, after the host function,
// in its module and function attributes: the second kernel from the same op
// is numbered, a name already taken (@decode_linear_q_a_proj_fp8_1, a
// function here) is skipped, a launch whose ops carry no name and one named
// already keep theirs.
// CHECK-LABEL: func.func @decode
// CHECK:       gpu.launch {{.*}} module(@decode_linear_q_a_proj_fp8) function(@decode_linear_q_a_proj_fp8)
// CHECK:       gpu.launch {{.*}} module(@decode_linear_q_a_proj_fp8_2) function(@decode_linear_q_a_proj_fp8_2)
// CHECK:       gpu.launch {{.*}} = %c1) {{[{]$}}
// CHECK:       gpu.launch {{.*}} module(@decode_rms_norm_q_a_layernorm) function(@decode_rms_norm_q_a_layernorm)
// CHECK:       gpu.launch {{.*}} module(@mine) function(@mine)

// Outlining names the kernels and their modules after the attributes.
// OUTLINED-LABEL: func.func @decode
// OUTLINED:       gpu.launch_func @decode_linear_q_a_proj_fp8::@decode_linear_q_a_proj_fp8
// OUTLINED:       gpu.launch_func @decode_linear_q_a_proj_fp8_2::@decode_linear_q_a_proj_fp8_2
// OUTLINED:       gpu.launch_func @decode_kernel::@decode_kernel
// OUTLINED:       gpu.launch_func @decode_rms_norm_q_a_layernorm::@decode_rms_norm_q_a_layernorm
// OUTLINED:       gpu.launch_func @mine::@mine
// OUTLINED:       gpu.module @decode_linear_q_a_proj_fp8 {
// OUTLINED-NEXT:    gpu.func @decode_linear_q_a_proj_fp8(
module attributes {gpu.container_module} {
  func.func @decode(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %c0 = arith.constant 0 : index loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      %v = arith.constant 0.0 : f32 loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      memref.store %v, %m[%c0] : memref<4xf32> loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %c0 = arith.constant 0 : index loc(fused["a.mlir":2:1, "copy"("a.mlir":2:1)])
      %v = memref.load %m[%c0] : memref<4xf32> loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      %w = arith.addf %v, %v : f32 loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      memref.store %w, %m[%c0] : memref<4xf32> loc("linear_q_a_proj_fp8"("a.mlir":1:1))
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      %c0 = arith.constant 0 : index loc(fused["a.mlir":3:1, "rms_norm_q_a_layernorm"("a.mlir":3:1)])
      %v = memref.load %m[%c0] : memref<4xf32> loc("rms_norm_q_a_layernorm"("a.mlir":3:1))
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@mine) function(@mine) {
      %c0 = arith.constant 0 : index loc("rms_norm_q_a_layernorm"("a.mlir":3:1))
      %v = memref.load %m[%c0] : memref<4xf32> loc("rms_norm_q_a_layernorm"("a.mlir":3:1))
      gpu.terminator
    }
    return
  }
  func.func private @decode_linear_q_a_proj_fp8_1()
}
