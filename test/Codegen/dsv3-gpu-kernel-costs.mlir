// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --dsv3-gpu-kernel-costs | FileCheck %s

// Each named launch's cost moves into the module's dsv3.kernel_costs, by
// kernel name (either field may be missing); a launch without a name loses
// its cost (outlining names it later); no launch keeps the attribute.
// CHECK:     module attributes {dsv3.kernel_costs = {decode_linear_q_a_proj_fp8 = {bytes = 11030144 : i64, flops = 22020096 : i64}, decode_rms_norm = {bytes = 4096 : i64}}, gpu.container_module}
// CHECK-NOT: dsv3.kernel_cost =
module attributes {gpu.container_module} {
  func.func @decode(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@decode_linear_q_a_proj_fp8) function(@decode_linear_q_a_proj_fp8) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = 11030144 : i64, flops = 22020096 : i64}}
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@decode_rms_norm) function(@decode_rms_norm) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = 4096 : i64}}
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = 16 : i64}}
    return
  }
}

// -----

module attributes {gpu.container_module} {
  func.func @bad(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    // expected-error @+1 {{'dsv3.kernel_cost' must be a non-empty dictionary of non-negative i64 'bytes' and 'flops'}}
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@k) function(@k) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = -1 : i64}}
    return
  }
}

// -----

module attributes {gpu.container_module} {
  func.func @bad(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    // expected-error @+1 {{'dsv3.kernel_cost' must be a non-empty dictionary of non-negative i64 'bytes' and 'flops'}}
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@k) function(@k) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = 1 : i64, time = 3 : i64}}
    return
  }
}

// -----

module attributes {gpu.container_module} {
  func.func @twice(%m: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@k) function(@k) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = 1 : i64}}
    // expected-error @+1 {{a second launch of kernel @k with a cost}}
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1) threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) module(@k) function(@k) {
      gpu.terminator
    } {dsv3.kernel_cost = {bytes = 1 : i64}}
    return
  }
}
