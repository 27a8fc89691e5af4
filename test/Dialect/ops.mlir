// RUN: dsv3-opt %s | dsv3-opt | FileCheck %s
// Round trip of every op's custom assembly, with and without defaults.

// CHECK-LABEL: func.func @parameter
// CHECK: dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>
func.func @parameter() -> tensor<1536x7168xf8E4M3FN> {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>
  return %w : tensor<1536x7168xf8E4M3FN>
}

// CHECK-LABEL: func.func @parameter_stacked
// CHECK: dsv3.parameter "model.layers.3.mlp.experts.{e}.gate_proj.weight" stacked : tensor<256x2048x7168xf8E4M3FN>
func.func @parameter_stacked() -> tensor<256x2048x7168xf8E4M3FN> {
  %w = dsv3.parameter "model.layers.3.mlp.experts.{e}.gate_proj.weight" stacked : tensor<256x2048x7168xf8E4M3FN>
  return %w : tensor<256x2048x7168xf8E4M3FN>
}

// CHECK-LABEL: func.func @parameter_same_as
// CHECK: dsv3.parameter "model.layers.61.embed_tokens.weight" same_as "model.embed_tokens.weight" : tensor<16x8xbf16>
func.func @parameter_same_as() -> tensor<16x8xbf16> {
  %w = dsv3.parameter "model.layers.61.embed_tokens.weight" same_as "model.embed_tokens.weight" : tensor<16x8xbf16>
  return %w : tensor<16x8xbf16>
}

// CHECK-LABEL: func.func @parameter_quantized_from
// CHECK: dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
// CHECK: dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight" : tensor<3x2xf32>
// CHECK: dsv3.parameter "model.layers.61.shared_head.head.weight" same_as "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
func.func @parameter_quantized_from() -> (tensor<300x200xf8E4M3FN>, tensor<3x2xf32>, tensor<300x200xf8E4M3FN>) {
  %w = dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
  %s = dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight" : tensor<3x2xf32>
  %m = dsv3.parameter "model.layers.61.shared_head.head.weight" same_as "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
  return %w, %s, %m : tensor<300x200xf8E4M3FN>, tensor<3x2xf32>, tensor<300x200xf8E4M3FN>
}

// CHECK-LABEL: func.func @quantize
// CHECK: dsv3.quantize %{{.*}} block [1, 128] : tensor<4x7168xbf16> -> tensor<4x7168xf8E4M3FN>, tensor<4x56xf32>
// CHECK: dsv3.quantize %{{.*}} block [128, 128] scale_fmt(ue8m0) : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<5x56xf8E8M0FNU>
// CHECK: dsv3.quantize %{{.*}} block [128, 128] scale_fmt(ue8m0) : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<5x56xf32>
func.func @quantize(%x: tensor<4x7168xbf16>, %w: tensor<576x7168xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x7168xbf16> -> tensor<4x7168xf8E4M3FN>, tensor<4x56xf32>
  %wq, %ws = dsv3.quantize %w block [128, 128] scale_fmt(ue8m0) : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<5x56xf8E8M0FNU>
  %wq2, %ws2 = dsv3.quantize %w block [128, 128] scale_fmt(ue8m0) : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<5x56xf32>
  return
}

// CHECK-LABEL: func.func @dequantize
// CHECK: dsv3.dequantize %{{.*}}, %{{.*}} block [128, 128] : tensor<576x7168xf8E4M3FN>, tensor<5x56xf32> -> tensor<576x7168xbf16>
func.func @dequantize(%q: tensor<576x7168xf8E4M3FN>, %s: tensor<5x56xf32>) -> tensor<576x7168xbf16> {
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<576x7168xf8E4M3FN>, tensor<5x56xf32> -> tensor<576x7168xbf16>
  return %w : tensor<576x7168xbf16>
}

// CHECK-LABEL: func.func @linear
// CHECK: dsv3.linear %{{.*}}, %{{.*}} weight_scale_inv(%{{.*}} : tensor<12x56xf32>) act_quant(fp8_1x128) : (tensor<4x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<4x1536xf32>
// CHECK: dsv3.linear %{{.*}}, %{{.*}} weight_scale_inv(%{{.*}} : tensor<12x56xf32>) : (tensor<4x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<4x1536xbf16>
// CHECK: dsv3.linear %{{.*}}, %{{.*}} : (tensor<4x7168xbf16>, tensor<1536x7168xbf16>) -> tensor<4x1536xf32>
// CHECK: act_quant(fp8_1x128_ue8m0)
func.func @linear(%x: tensor<4x7168xbf16>, %w: tensor<1536x7168xf8E4M3FN>, %s: tensor<12x56xf32>, %wb: tensor<1536x7168xbf16>) {
  %0 = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>) act_quant(fp8_1x128) : (tensor<4x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<4x1536xf32>
  %1 = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>) : (tensor<4x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<4x1536xbf16>
  %2 = dsv3.linear %x, %wb : (tensor<4x7168xbf16>, tensor<1536x7168xbf16>) -> tensor<4x1536xf32>
  %3 = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>) act_quant(fp8_1x128_ue8m0) : (tensor<4x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<4x1536xf32>
  return
}

// CHECK-LABEL: func.func @rms_norm
// CHECK: dsv3.rms_norm %{{.*}}, %{{.*}} : (tensor<4x1536xf32>, tensor<1536xbf16>) -> tensor<4x1536xbf16>
// CHECK: dsv3.rms_norm %{{.*}}, %{{.*}} eps(9.99999974E-6) : (tensor<4x1536xf32>, tensor<1536xbf16>) -> tensor<4x1536xf32>
func.func @rms_norm(%x: tensor<4x1536xf32>, %w: tensor<1536xbf16>) {
  %0 = dsv3.rms_norm %x, %w : (tensor<4x1536xf32>, tensor<1536xbf16>) -> tensor<4x1536xbf16>
  %1 = dsv3.rms_norm %x, %w eps(1.0e-5) : (tensor<4x1536xf32>, tensor<1536xbf16>) -> tensor<4x1536xf32>
  return
}
