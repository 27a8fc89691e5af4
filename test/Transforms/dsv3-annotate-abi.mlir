// RUN: dsv3-opt %s --dsv3-outline-parameters --dsv3-annotate-abi --split-input-file --verify-diagnostics | FileCheck %s

// Inputs, then parameters, then outputs, with names, dtypes and shapes.
// CHECK: module attributes {dsv3.metadata = "{\22abi_version\22:1,\22entries\22:[{\22args\22:[
// CHECK-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22arg0\22,\22role\22:\22input\22,\22shape\22:[4,256]}
// CHECK-SAME: {\22dtype\22:\22f8e4m3fn\22,\22name\22:\22model.layers.0.self_attn.q_a_proj.weight\22,\22role\22:\22parameter\22,\22shape\22:[8,256]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22model.layers.0.self_attn.q_a_proj.weight_scale_inv\22,\22role\22:\22parameter\22,\22shape\22:[1,2]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22result0\22,\22role\22:\22output\22,\22shape\22:[4,8]}
// CHECK-SAME: \22name\22:\22proj\22,\22symbol\22:\22dsv3_entry_proj\22}],\22target\22:\22host\22}"}
// CHECK: func.func @proj({{.*}} attributes {llvm.emit_c_interface}
func.func @proj(%x: tensor<4x256xbf16>) -> tensor<4x8xf32> {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<8x256xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<1x2xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<4x256xbf16>, tensor<8x256xf8E4M3FN>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// expected-error @+1 {{entry input 'arg0' must be a statically shaped tensor, got 'tensor<?x4xf32>'}}
func.func @dynamic(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}

// -----

// expected-error @+1 {{entry input 'arg0' must be a statically shaped tensor, got 'i32'}}
func.func @scalar(%x: i32) -> i32 {
  return %x : i32
}

// -----

// expected-error @+1 {{entry input 'arg0' has element type 'f64', which the module ABI cannot carry}}
func.func @f64(%x: tensor<4xf64>) -> tensor<4xf64> {
  return %x : tensor<4xf64>
}
