// RUN: dsv3-opt %s -split-input-file -verify-diagnostics
// One case per verifier error.

func.func @parameter_empty_name() {
  // expected-error @+1 {{requires a non-empty checkpoint tensor name}}
  %w = dsv3.parameter "" : tensor<4xf32>
  return
}

// -----

func.func @parameter_dynamic() {
  // expected-error @+1 {{requires a static shape for parameter 'w'}}
  %w = dsv3.parameter "w" : tensor<?xf32>
  return
}

// -----

func.func @parameter_stacked_no_placeholder() {
  // expected-error @+1 {{stacked parameter 'experts.gate_proj.weight' must hold the expert placeholder {e} exactly once}}
  %w = dsv3.parameter "experts.gate_proj.weight" stacked : tensor<4x8x8xf32>
  return
}

// -----

func.func @parameter_stacked_twice() {
  // expected-error @+1 {{must hold the expert placeholder {e} exactly once}}
  %w = dsv3.parameter "experts.{e}.{e}.weight" stacked : tensor<4x8x8xf32>
  return
}

// -----

func.func @parameter_stacked_rank0() {
  // expected-error @+1 {{stacked parameter 'experts.{e}.bias' needs a leading expert dimension}}
  %w = dsv3.parameter "experts.{e}.bias" stacked : tensor<f32>
  return
}

// -----

func.func @parameter_placeholder_unstacked() {
  // expected-error @+1 {{parameter 'experts.{e}.weight' holds the placeholder {e} but is not stacked}}
  %w = dsv3.parameter "experts.{e}.weight" : tensor<8x8xf32>
  return
}

// -----

func.func @quantize_dynamic(%x: tensor<4x?xf32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but the data [4, ?] has dimension 1 dynamic}}
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x?xf32> -> tensor<4x?xf8E4M3FN>, tensor<4x1xf32>
  return
}

// -----

func.func @quantize_block_rank(%x: tensor<4x128xf32>) {
  // expected-error @+1 {{block has 1 sizes but the data has rank 2}}
  %q, %s = dsv3.quantize %x block [128] : tensor<4x128xf32> -> tensor<4x128xf8E4M3FN>, tensor<4x1xf32>
  return
}

// -----

func.func @quantize_block_positive(%x: tensor<4x128xf32>) {
  // expected-error @+1 {{block sizes must be positive, got [0, 128]}}
  %q, %s = dsv3.quantize %x block [0, 128] : tensor<4x128xf32> -> tensor<4x128xf8E4M3FN>, tensor<4x1xf32>
  return
}

// -----

func.func @quantize_scale_shape(%x: tensor<576x7168xf32>) {
  // expected-error @+1 {{scale shape must be [5, 56] (ceil-div of [576, 7168] by block [128, 128]), got [4, 56]}}
  %q, %s = dsv3.quantize %x block [128, 128] : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<4x56xf32>
  return
}

// -----

func.func @quantize_output_shape(%x: tensor<4x128xf32>) {
  // expected-error @+1 {{output shape [4, 256] differs from the input shape [4, 128]}}
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x128xf32> -> tensor<4x256xf8E4M3FN>, tensor<4x1xf32>
  return
}

// -----

func.func @quantize_e8m0_needs_ue8m0(%x: tensor<4x128xf32>) {
  // expected-error @+1 {{f8E8M0FNU scales require scale_fmt(ue8m0)}}
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x128xf32> -> tensor<4x128xf8E4M3FN>, tensor<4x1xf8E8M0FNU>
  return
}

// -----

func.func @quantize_bad_output_type(%x: tensor<4x128xf32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of f8E4M3FN type values}}
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x128xf32> -> tensor<4x128xbf16>, tensor<4x1xf32>
  return
}

// -----

func.func @dequantize_scale_shape(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x3xf32>) {
  // expected-error @+1 {{scale shape must be [2, 2] (ceil-div of [256, 256] by block [128, 128]), got [2, 3]}}
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<256x256xf8E4M3FN>, tensor<2x3xf32> -> tensor<256x256xbf16>
  return
}

// -----

func.func @dequantize_output_shape(%q: tensor<256x256xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{output shape [256, 128] differs from the input shape [256, 256]}}
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<256x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x128xbf16>
  return
}

// -----

func.func @dequantize_dynamic(%q: tensor<?x256xf8E4M3FN>, %s: tensor<2x2xf32>) {
  // expected-error @+1 {{dynamic dimension 0 needs block size 1, got 128}}
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<?x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<?x256xbf16>
  return
}

// -----

func.func @linear_rank(%x: tensor<4x2x128xf32>, %w: tensor<8x128xf32>) {
  // expected-error @+1 {{expects rank-2 input [M, K], weight [N, K] and result [M, N]}}
  %y = dsv3.linear %x, %w : (tensor<4x2x128xf32>, tensor<8x128xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_dynamic(%x: tensor<?x128xf32>, %w: tensor<?x128xf32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but weight [?, 128] has dimension 0 dynamic}}
  %y = dsv3.linear %x, %w : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x?xf32>
  return
}

// -----

func.func @linear_k(%x: tensor<4x128xf32>, %w: tensor<8x256xf32>) {
  // expected-error @+1 {{weight K (256) differs from input K (128)}}
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x256xf32>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_result(%x: tensor<4x128xf32>, %w: tensor<8x128xf32>) {
  // expected-error @+1 {{result shape must be [4, 8], got [8, 4]}}
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x128xf32>) -> tensor<8x4xf32>
  return
}

// -----

func.func @linear_fp8_needs_scale(%x: tensor<4x128xf32>, %w: tensor<8x128xf8E4M3FN>) {
  // expected-error @+1 {{an FP8 weight requires weight_scale_inv}}
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x128xf8E4M3FN>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_scale_on_bf16(%x: tensor<4x128xf32>, %w: tensor<8x128xbf16>, %s: tensor<1x1xf32>) {
  // expected-error @+1 {{weight_scale_inv given for a non-FP8 weight}}
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<4x128xf32>, tensor<8x128xbf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_scale_shape(%x: tensor<4x7168xbf16>, %w: tensor<576x7168xf8E4M3FN>, %s: tensor<4x56xf32>) {
  // expected-error @+1 {{weight_scale_inv shape must be [5, 56] for a [576, 7168] weight in 128x128 blocks, got [4, 56]}}
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<4x56xf32>) : (tensor<4x7168xbf16>, tensor<576x7168xf8E4M3FN>) -> tensor<4x576xf32>
  return
}

// -----

func.func @linear_act_quant_bf16_weight(%x: tensor<4x128xf32>, %w: tensor<8x128xbf16>) {
  // expected-error @+1 {{activation quantization requires an FP8 weight}}
  %y = dsv3.linear %x, %w act_quant(fp8_1x128) : (tensor<4x128xf32>, tensor<8x128xbf16>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_act_quant_k(%x: tensor<4x100xf32>, %w: tensor<8x100xf8E4M3FN>, %s: tensor<1x1xf32>) {
  // expected-error @+1 {{activation quantization requires K to be a multiple of 128, got 100}}
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) act_quant(fp8_1x128) : (tensor<4x100xf32>, tensor<8x100xf8E4M3FN>) -> tensor<4x8xf32>
  return
}

// -----

func.func @linear_result_type(%x: tensor<4x128xf32>, %w: tensor<8x128xf32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of bfloat16 type or 32-bit float values}}
  %y = dsv3.linear %x, %w : (tensor<4x128xf32>, tensor<8x128xf32>) -> tensor<4x8xf16>
  return
}

// -----

func.func @rms_norm_dynamic(%x: tensor<4x?xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but input [4, ?] has dimension 1 dynamic}}
  %y = dsv3.rms_norm %x, %w : (tensor<4x?xf32>, tensor<64xf32>) -> tensor<4x?xf32>
  return
}

// -----

func.func @rms_norm_rank0(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{requires an input of rank >= 1}}
  %y = dsv3.rms_norm %x, %w : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @rms_norm_weight(%x: tensor<4x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight must be [64] (the input's last dimension), got [32]}}
  %y = dsv3.rms_norm %x, %w : (tensor<4x64xf32>, tensor<32xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @rms_norm_result(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{result shape [4, 32] differs from the input shape [4, 64]}}
  %y = dsv3.rms_norm %x, %w : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x32xf32>
  return
}

// -----

func.func @rms_norm_eps(%x: tensor<4x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{epsilon must be positive}}
  %y = dsv3.rms_norm %x, %w eps(0.0) : (tensor<4x64xf32>, tensor<64xf32>) -> tensor<4x64xf32>
  return
}

// -----

func.func @parameter_same_as_itself() {
  // expected-error @+1 {{parameter 'lm_head.weight': same_as must name another parameter}}
  %w = dsv3.parameter "lm_head.weight" same_as "lm_head.weight" : tensor<4x8xbf16>
  return
}

// -----

func.func @parameter_same_as_stacked() {
  // expected-error @+1 {{stacked parameter 'experts.{e}.weight' cannot be same_as another}}
  %w = dsv3.parameter "experts.{e}.weight" stacked same_as "other.{e}.weight" : tensor<4x8x8xf32>
  return
}

// -----

func.func @parameter_quantized_from_int() {
  // expected-error @+1 {{parameter 'lm_head.weight': quantized_from must be bf16, f16 or f32, not 'i8'}}
  %w = dsv3.parameter "lm_head.weight" quantized_from(i8) : tensor<4x8xf8E4M3FN>
  return
}

// -----

func.func @parameter_quantized_from_not_fp8() {
  // expected-error @+1 {{quantized parameter 'lm_head.weight' must be a rank-2 f8E4M3FN tensor, not 'tensor<4x8xbf16>'}}
  %w = dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<4x8xbf16>
  return
}

// -----

func.func @parameter_quantized_from_rank3() {
  // expected-error @+1 {{quantized parameter 'w' must be a rank-2 f8E4M3FN tensor, not 'tensor<2x4x8xf8E4M3FN>'}}
  %w = dsv3.parameter "w" quantized_from(bf16) : tensor<2x4x8xf8E4M3FN>
  return
}

// -----

func.func @parameter_quantized_from_stacked() {
  // expected-error @+1 {{stacked parameter 'experts.{e}.weight' cannot be quantized_from}}
  %w = dsv3.parameter "experts.{e}.weight" stacked quantized_from(bf16) : tensor<4x8xf8E4M3FN>
  return
}

// -----

func.func @parameter_scales_of_itself() {
  // expected-error @+1 {{parameter 's': scales_of must name another parameter}}
  %s = dsv3.parameter "s" scales_of "s" : tensor<1x1xf32>
  return
}

// -----

func.func @parameter_scales_of_not_f32() {
  // expected-error @+1 {{scales parameter 's' must be a rank-2 f32 tensor, not 'tensor<1x1xbf16>'}}
  %s = dsv3.parameter "s" scales_of "w" : tensor<1x1xbf16>
  return
}

// -----

func.func @parameter_scales_of_quantized() {
  // expected-error @+1 {{scales parameter 's' cannot also be stacked, quantized_from or same_as}}
  %s = dsv3.parameter "s" same_as "t" scales_of "w" : tensor<1x1xf32>
  return
}
