// RUN: dsv3-opt %s --dsv3-outline-layer-parameters --split-input-file --verify-diagnostics | FileCheck %s

// One layer function, called for layers 0 and 1: its parameter reads become
// trailing arguments, and each call reads its own layer's weights ({layer}
// replaced by dsv3.layer), shared names (no {layer}) unchanged, stacked kept.
// CHECK-LABEL: func.func private @layer
// CHECK-SAME:    (%[[H:.*]]: tensor<2x4xf32>, %[[W:.*]]: tensor<4x4xf32>, %[[E:.*]]: tensor<3x4x4xf32>, %[[S:.*]]: tensor<4xf32>)
// CHECK-NOT:   dsv3.parameter
// CHECK:       dsv3.linear %[[H]], %[[W]]
func.func private @layer(%h: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %w = dsv3.parameter "model.layers.{layer}.proj.weight" : tensor<4x4xf32>
  %e = dsv3.parameter "model.layers.{layer}.experts.{e}.w" stacked : tensor<3x4x4xf32>
  %s = dsv3.parameter "model.shared.weight" : tensor<4xf32>
  %w2 = dsv3.parameter "model.layers.{layer}.proj.weight" : tensor<4x4xf32>
  %y = dsv3.linear %h, %w : (tensor<2x4xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @entry
// CHECK:       %[[W0:.*]] = dsv3.parameter "model.layers.0.proj.weight" : tensor<4x4xf32>
// CHECK-NEXT:  %[[E0:.*]] = dsv3.parameter "model.layers.0.experts.{e}.w" stacked : tensor<3x4x4xf32>
// CHECK-NEXT:  %[[S0:.*]] = dsv3.parameter "model.shared.weight" : tensor<4xf32>
// CHECK-NEXT:  %[[H1:.*]] = call @layer(%{{.*}}, %[[W0]], %[[E0]], %[[S0]]) {dsv3.layer = 0 : i64}
// CHECK-NEXT:  %[[W1:.*]] = dsv3.parameter "model.layers.1.proj.weight" : tensor<4x4xf32>
// CHECK-NEXT:  %[[E1:.*]] = dsv3.parameter "model.layers.1.experts.{e}.w" stacked : tensor<3x4x4xf32>
// CHECK-NEXT:  %[[S1:.*]] = dsv3.parameter "model.shared.weight" : tensor<4xf32>
// CHECK-NEXT:  call @layer(%[[H1]], %[[W1]], %[[E1]], %[[S1]]) {dsv3.layer = 1 : i64}
func.func @entry(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = func.call @layer(%x) {dsv3.layer = 0 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  %1 = func.call @layer(%0) {dsv3.layer = 1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
}

// -----

// A private caller of a layer function is outlined in turn.
// CHECK-LABEL: func.func private @inner
// CHECK-SAME:    (%{{.*}}: tensor<4xf32>, %{{.*}}: tensor<4xf32>)
// CHECK-LABEL: func.func private @outer
// CHECK-SAME:    (%[[X:.*]]: tensor<4xf32>, %[[P:.*]]: tensor<4xf32>)
// CHECK:       call @inner(%[[X]], %[[P]])
// CHECK-LABEL: func.func @main
// CHECK:       %[[Q:.*]] = dsv3.parameter "model.layers.5.w" : tensor<4xf32>
// CHECK:       call @outer(%{{.*}}, %[[Q]]) {dsv3.layer = 5 : i64}
func.func private @inner(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = dsv3.parameter "model.layers.{layer}.w" : tensor<4xf32>
  return %w : tensor<4xf32>
}
func.func private @outer(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @inner(%x) {dsv3.layer = 5 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @outer(%x) {dsv3.layer = 5 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func private @layer(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = dsv3.parameter "model.layers.{layer}.w" : tensor<4xf32>
  return %w : tensor<4xf32>
}
func.func @missing_index(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{calls @layer, whose parameter names hold '{layer}', without a non-negative integer dsv3.layer attribute}}
  %0 = func.call @layer(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func private @layer(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = dsv3.parameter "model.layers.{layer}.w" : tensor<4xf32>
  // expected-error @+1 {{parameter 'model.layers.{layer}.w' is read with type 'tensor<8xf32>' here but 'tensor<4xf32>' elsewhere}}
  %v = dsv3.parameter "model.layers.{layer}.w" : tensor<8xf32>
  return %w : tensor<4xf32>
}
func.func @two_types(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @layer(%x) {dsv3.layer = 0 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func private @a(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = dsv3.parameter "w" : tensor<4xf32>
  %0 = func.call @b(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %w : tensor<4xf32>
}
// expected-error @+1 {{reads parameters through a cycle of calls}}
func.func private @b(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = func.call @a(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Markers of parameters quantized at bind time move to the call sites, with
// the layer index substituted in scales_of too.
// CHECK-LABEL: func.func @quantized_layers
// CHECK:       dsv3.parameter "model.layers.2.w" quantized_from(bf16) : tensor<4x8xf8E4M3FN>
// CHECK-NEXT:  dsv3.parameter "model.layers.2.w_scale_inv" scales_of "model.layers.2.w" : tensor<1x1xf32>
// CHECK-NEXT:  call @qlayer
func.func private @qlayer(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w = dsv3.parameter "model.layers.{layer}.w" quantized_from(bf16) : tensor<4x8xf8E4M3FN>
  %s = dsv3.parameter "model.layers.{layer}.w_scale_inv" scales_of "model.layers.{layer}.w" : tensor<1x1xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<2x8xf32>, tensor<4x8xf8E4M3FN>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
func.func @quantized_layers(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %y = call @qlayer(%x) {dsv3.layer = 2 : i64} : (tensor<2x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
