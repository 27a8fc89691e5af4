// RUN: dsv3-opt %s --dsv3-decompose-mlp --split-input-file | FileCheck %s

// FP8 weights: each projection reads its weight and its 128x128 block scales
// by HF name; gate and up accumulate in f32, the SwiGLU is f32, and down_proj
// rounds once to the result type.
// CHECK-LABEL: func.func @fp8
// CHECK-SAME:    (%[[X:.*]]: tensor<4x160xbf16>)
// CHECK-NOT:   dsv3.mlp
// CHECK:       %[[GW:.*]] = dsv3.parameter "model.layers.0.mlp.gate_proj.weight" : tensor<224x160xf8E4M3FN>
// CHECK:       %[[GS:.*]] = dsv3.parameter "model.layers.0.mlp.gate_proj.weight_scale_inv" : tensor<2x2xf32>
// CHECK:       %[[G:.*]] = dsv3.linear %[[X]], %[[GW]] weight_scale_inv(%[[GS]] : tensor<2x2xf32>) : (tensor<4x160xbf16>, tensor<224x160xf8E4M3FN>) -> tensor<4x224xf32>
// CHECK:       %[[UW:.*]] = dsv3.parameter "model.layers.0.mlp.up_proj.weight" : tensor<224x160xf8E4M3FN>
// CHECK:       %[[US:.*]] = dsv3.parameter "model.layers.0.mlp.up_proj.weight_scale_inv" : tensor<2x2xf32>
// CHECK:       %[[U:.*]] = dsv3.linear %[[X]], %[[UW]] weight_scale_inv(%[[US]] : tensor<2x2xf32>)
// CHECK:       %[[A:.*]] = linalg.generic {{.*}} ins(%[[G]], %[[U]] : tensor<4x224xf32>, tensor<4x224xf32>)
// CHECK:         math.exp
// CHECK:       %[[DW:.*]] = dsv3.parameter "model.layers.0.mlp.down_proj.weight" : tensor<160x224xf8E4M3FN>
// CHECK:       %[[DS:.*]] = dsv3.parameter "model.layers.0.mlp.down_proj.weight_scale_inv" : tensor<2x2xf32>
// CHECK:       %[[Y:.*]] = dsv3.linear %[[A]], %[[DW]] weight_scale_inv(%[[DS]] : tensor<2x2xf32>) : (tensor<4x224xf32>, tensor<160x224xf8E4M3FN>) -> tensor<4x160xbf16>
// CHECK:       return %[[Y]]
func.func @fp8(%x: tensor<4x160xbf16>) -> tensor<4x160xbf16> {
  %y = dsv3.mlp %x prefix("model.layers.0.mlp") intermediate_size(224) weight_type(f8E4M3FN) : tensor<4x160xbf16> -> tensor<4x160xbf16>
  return %y : tensor<4x160xbf16>
}

// -----

// High-precision weights carry no scales.
// CHECK-LABEL: func.func @f32
// CHECK-NOT:   weight_scale_inv
// CHECK:       dsv3.parameter "m.gate_proj.weight" : tensor<16x8xf32>
// CHECK:       dsv3.parameter "m.down_proj.weight" : tensor<8x16xf32>
// CHECK:       dsv3.linear {{.*}} -> tensor<2x8xf32>
func.func @f32(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(f32) : tensor<2x8xf32> -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
