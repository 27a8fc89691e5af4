// RUN: dsv3-opt %s --dsv3-name-op-locations --mlir-print-debuginfo | FileCheck %s

// Each dsv3 op's location gets a name: the op, the Hugging Face module of
// its first parameter operand, and _fp8 for an FP8 weight; an op without a
// parameter operand gets its mnemonic; dsv3.parameter and other dialects'
// ops keep theirs.
// CHECK-LABEL: func.func @names
// CHECK:       dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" {{.*}} loc(#[[P:.*]])
// CHECK:       dsv3.linear {{.*}} loc(#[[LIN:.*]])
// CHECK:       dsv3.rms_norm {{.*}} loc(#[[NORM:.*]])
// CHECK:       dsv3.quantize {{.*}} loc(#[[QUANT:.*]])
// CHECK:       arith.constant {{.*}} loc(#[[C:.*]])
// CHECK-DAG:   #[[P]] = loc("{{.*}}":{{[0-9]+}}:{{[0-9]+}})
// CHECK-DAG:   #[[LIN]] = loc("linear_q_a_proj_fp8"(#{{.*}}))
// CHECK-DAG:   #[[NORM]] = loc("rms_norm_q_a_layernorm"(#{{.*}}))
// CHECK-DAG:   #[[QUANT]] = loc("quantize"(#{{.*}}))
// CHECK-DAG:   #[[C]] = loc("{{.*}}":{{[0-9]+}}:{{[0-9]+}})
func.func @names(%x: tensor<1x256xbf16>) -> (tensor<1x128xbf16>, tensor<1x128xf8E4M3FN>, tensor<1x1xf32>, f32) {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<128x256xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<1x2xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<1x256xbf16>, tensor<128x256xf8E4M3FN>) -> tensor<1x128xf32>
  %g = dsv3.parameter "model.layers.0.self_attn.q_a_layernorm.weight" : tensor<128xbf16>
  %n = dsv3.rms_norm %y, %g : (tensor<1x128xf32>, tensor<128xbf16>) -> tensor<1x128xbf16>
  %q, %qs = dsv3.quantize %y block [1, 128] : tensor<1x128xf32> -> tensor<1x128xf8E4M3FN>, tensor<1x1xf32>
  %c = arith.constant 1.0 : f32
  return %n, %q, %qs, %c : tensor<1x128xbf16>, tensor<1x128xf8E4M3FN>, tensor<1x1xf32>, f32
}

// -----

// A parameter name without dots is its own module; running the pass again
// changes nothing.
// RUN: dsv3-opt %s --split-input-file --dsv3-name-op-locations --dsv3-name-op-locations --mlir-print-debuginfo | FileCheck %s --check-prefix=PLAIN
// PLAIN-LABEL: func.func @plain
// PLAIN:       dsv3.rms_norm {{.*}} loc(#[[NORM:.*]])
// PLAIN:       #[[NORM]] = loc("rms_norm_gamma"(#{{.*}}))
func.func @plain(%x: tensor<1x128xf32>) -> tensor<1x128xbf16> {
  %g = dsv3.parameter "gamma" : tensor<128xbf16>
  %n = dsv3.rms_norm %x, %g : (tensor<1x128xf32>, tensor<128xbf16>) -> tensor<1x128xbf16>
  return %n : tensor<1x128xbf16>
}

// -----

// A top-level module's parameter (`lm_head.weight`) names it.
// RUN: dsv3-opt %s --split-input-file --dsv3-name-op-locations --mlir-print-debuginfo | FileCheck %s --check-prefix=TOP
// TOP-LABEL: func.func @top_level
// TOP:       dsv3.linear {{.*}} loc(#[[LIN:.*]])
// TOP:       #[[LIN]] = loc("linear_lm_head"(#{{.*}}))
func.func @top_level(%x: tensor<1x128xbf16>) -> tensor<1x64xf32> {
  %w = dsv3.parameter "lm_head.weight" : tensor<64x128xbf16>
  %y = dsv3.linear %x, %w : (tensor<1x128xbf16>, tensor<64x128xbf16>) -> tensor<1x64xf32>
  return %y : tensor<1x64xf32>
}
