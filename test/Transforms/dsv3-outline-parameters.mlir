// RUN: dsv3-opt %s --dsv3-outline-parameters --split-input-file --verify-diagnostics | FileCheck %s

// Each distinct name becomes one trailing argument, in order of first use.
// CHECK-LABEL: func.func @entry(
// CHECK-SAME:    %[[X:.*]]: tensor<4x8xf32>,
// CHECK-SAME:    %[[W:.*]]: tensor<8x8xbf16> {dsv3.parameter = "model.layers.0.mlp.down_proj.weight"},
// CHECK-SAME:    %[[N:.*]]: tensor<8xbf16> {dsv3.parameter = "model.norm.weight"})
// CHECK-NOT:   dsv3.parameter "
// CHECK:       dsv3.linear %[[X]], %[[W]]
// CHECK:       dsv3.rms_norm %{{.*}}, %[[N]]
// CHECK:       dsv3.linear %{{.*}}, %[[W]]
func.func @entry(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %w = dsv3.parameter "model.layers.0.mlp.down_proj.weight" : tensor<8x8xbf16>
  %y = dsv3.linear %x, %w : (tensor<4x8xf32>, tensor<8x8xbf16>) -> tensor<4x8xf32>
  %n = dsv3.parameter "model.norm.weight" : tensor<8xbf16>
  %z = dsv3.rms_norm %y, %n : (tensor<4x8xf32>, tensor<8xbf16>) -> tensor<4x8xf32>
  %w2 = dsv3.parameter "model.layers.0.mlp.down_proj.weight" : tensor<8x8xbf16>
  %r = dsv3.linear %z, %w2 : (tensor<4x8xf32>, tensor<8x8xbf16>) -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// A stacked parameter keeps its placeholder name and is marked for the runtime.
// CHECK-LABEL: func.func @stacked(
// CHECK-SAME:    tensor<4x8x8xbf16> {dsv3.parameter = "model.layers.1.mlp.experts.{e}.down_proj.weight", dsv3.stacked})
func.func @stacked() -> tensor<4x8x8xbf16> {
  %w = dsv3.parameter "model.layers.1.mlp.experts.{e}.down_proj.weight" stacked : tensor<4x8x8xbf16>
  return %w : tensor<4x8x8xbf16>
}

// -----

func.func @conflict() -> (tensor<8xbf16>, tensor<4xbf16>) {
  %a = dsv3.parameter "w" : tensor<8xbf16>
  // expected-error @+1 {{parameter 'w' is read with type 'tensor<4xbf16>' here but 'tensor<8xbf16>' elsewhere}}
  %b = dsv3.parameter "w" : tensor<4xbf16>
  return %a, %b : tensor<8xbf16>, tensor<4xbf16>
}

// -----

func.func private @helper() -> tensor<8xbf16> {
  // expected-error @+1 {{reads a parameter inside private function 'helper'; only entry functions may}}
  %a = dsv3.parameter "w" : tensor<8xbf16>
  return %a : tensor<8xbf16>
}

// -----

// A possible copy keeps its own name and says which parameter it may share.
// CHECK-LABEL: func.func @same_as(
// CHECK-SAME:    tensor<16x8xbf16> {dsv3.parameter = "model.layers.61.embed_tokens.weight", dsv3.same_as = "model.embed_tokens.weight"})
func.func @same_as() -> tensor<16x8xbf16> {
  %w = dsv3.parameter "model.layers.61.embed_tokens.weight" same_as "model.embed_tokens.weight" : tensor<16x8xbf16>
  return %w : tensor<16x8xbf16>
}

// -----

func.func @same_as_disagrees() -> tensor<16x8xbf16> {
  %w = dsv3.parameter "model.layers.61.embed_tokens.weight" same_as "model.embed_tokens.weight" : tensor<16x8xbf16>
  // expected-error @+1 {{parameter 'model.layers.61.embed_tokens.weight' is read with different same_as, quantized_from or scales_of here and elsewhere}}
  %v = dsv3.parameter "model.layers.61.embed_tokens.weight" : tensor<16x8xbf16>
  return %w : tensor<16x8xbf16>
}

// -----

// A parameter quantized at bind time and its scales keep their markers.
// CHECK-LABEL: func.func @quantized(
// CHECK-SAME:    tensor<300x200xf8E4M3FN> {dsv3.parameter = "lm_head.weight", dsv3.quantized_from = bf16},
// CHECK-SAME:    tensor<3x2xf32> {dsv3.parameter = "lm_head.weight_scale_inv", dsv3.scales_of = "lm_head.weight"})
func.func @quantized() -> (tensor<300x200xf8E4M3FN>, tensor<3x2xf32>) {
  %w = dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
  %s = dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight" : tensor<3x2xf32>
  return %w, %s : tensor<300x200xf8E4M3FN>, tensor<3x2xf32>
}

// -----

func.func @quantized_conflict() -> (tensor<4x8xf8E4M3FN>, tensor<4x8xf8E4M3FN>) {
  %a = dsv3.parameter "w" quantized_from(bf16) : tensor<4x8xf8E4M3FN>
  // expected-error @+1 {{parameter 'w' is read with different same_as, quantized_from or scales_of here and elsewhere}}
  %b = dsv3.parameter "w" : tensor<4x8xf8E4M3FN>
  return %a, %b : tensor<4x8xf8E4M3FN>, tensor<4x8xf8E4M3FN>
}
