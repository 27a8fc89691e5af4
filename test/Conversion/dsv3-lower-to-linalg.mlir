// RUN: dsv3-opt %s --dsv3-lower-to-linalg --split-input-file | FileCheck %s

// Quantize: pad to whole blocks, view as [nb, b, ...], amax per block (NaN
// ignored), clamp and divide by 448, divide, clamp to ±448, cast, crop.
// CHECK-LABEL: func.func @quantize_partial_block
// CHECK:      %[[PAD:.*]] = tensor.pad %{{.*}} low[0, 0] high[0, 56]
// CHECK:      %[[X:.*]] = tensor.expand_shape %[[PAD]] {{\[\[}}0, 1], [2, 3]] output_shape [2, 1, 2, 128]
// CHECK:      linalg.generic {{.*}} iterator_types = ["parallel", "reduction", "parallel", "reduction"]} ins(%[[X]] : tensor<2x1x2x128xbf16>)
// CHECK:        math.absf
// CHECK:        arith.maxnumf
// CHECK:      %[[S:.*]] = linalg.generic
// CHECK:        arith.maxnumf %{{.*}}, %[[FLOOR:.*]] : f32
// CHECK:        arith.divf
// CHECK:      linalg.generic {{.*}} ins(%[[X]], %[[S]] : tensor<2x1x2x128xbf16>, tensor<2x2xf32>)
// CHECK:        arith.divf
// CHECK:        arith.minimumf
// CHECK:        arith.maximumf
// CHECK:        arith.truncf %{{.*}} : f32 to f8E4M3FN
// CHECK:      tensor.collapse_shape
// CHECK:      tensor.extract_slice {{.*}} [2, 200] [1, 1] : tensor<2x256xf8E4M3FN> to tensor<2x200xf8E4M3FN>
func.func @quantize_partial_block(%x: tensor<2x200xbf16>) -> (tensor<2x200xf8E4M3FN>, tensor<2x2xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<2x200xbf16> -> tensor<2x200xf8E4M3FN>, tensor<2x2xf32>
  return %q, %s : tensor<2x200xf8E4M3FN>, tensor<2x2xf32>
}

// -----

// UE8M0: the scale is rounded up with exponent arithmetic and stored as E8M0.
// CHECK-LABEL: func.func @quantize_ue8m0
// CHECK-NOT:  tensor.pad
// CHECK:      arith.bitcast %{{.*}} : f32 to i32
// CHECK:      arith.shrui
// CHECK:      arith.cmpi ne
// CHECK:      arith.addi
// CHECK:      arith.shli
// CHECK:      arith.truncf %{{.*}} : f32 to f8E8M0FNU
func.func @quantize_ue8m0(%x: tensor<256x256xf32>) -> (tensor<256x256xf8E4M3FN>, tensor<2x2xf8E8M0FNU>) {
  %q, %s = dsv3.quantize %x block [128, 128] scale_fmt(ue8m0) : tensor<256x256xf32> -> tensor<256x256xf8E4M3FN>, tensor<2x2xf8E8M0FNU>
  return %q, %s : tensor<256x256xf8E4M3FN>, tensor<2x2xf8E8M0FNU>
}

// -----

// CHECK-DAG: #[[BLK:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2)>
// CHECK-LABEL: func.func @dequantize
// CHECK:      tensor.pad {{.*}} high[64, 0]
// CHECK:      linalg.generic {{.*}}#[[BLK]]{{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK:        arith.extf %{{.*}} : f8E4M3FN to f32
// CHECK:        arith.mulf
// CHECK:        arith.truncf %{{.*}} : f32 to bf16
// CHECK:      tensor.extract_slice {{.*}} [576, 256]
func.func @dequantize(%q: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<576x256xbf16> {
  %w = dsv3.dequantize %q, %s block [128, 128] : tensor<576x256xf8E4M3FN>, tensor<5x2xf32> -> tensor<576x256xbf16>
  return %w : tensor<576x256xbf16>
}

// -----

// Weight-only: one reduction, the weight dequantized in f32 in the body.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[W:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[S:.*]] = affine_map<(d0, d1, d2) -> (d1 floordiv 128, d2 floordiv 128)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear_weight_only
// CHECK:      linalg.fill
// CHECK:      linalg.generic {indexing_maps = [#[[X]], #[[W]], #[[S]], #[[Y]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK:        %[[W8:.*]] = arith.extf %{{.*}} : f8E4M3FN to f32
// CHECK:        %[[WD:.*]] = arith.mulf %[[W8]], %{{.*}} : f32
// CHECK:        %[[P:.*]] = arith.mulf %{{.*}}, %[[WD]] : f32
// CHECK:        arith.addf %{{.*}}, %[[P]] : f32
// CHECK:      arith.truncf %{{.*}} : f32 to bf16
func.func @linear_weight_only(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xbf16> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xbf16>
  return %y : tensor<4x576xbf16>
}

// -----

// Activation-quantized: quantize x per 1x128 tile, f32 partials per K block
// on [*, K/128, 128] views, then acc += (partial * sa) * sb.
// CHECK-LABEL: func.func @linear_act_quant
// CHECK:      arith.truncf %{{.*}} : f32 to f8E4M3FN
// CHECK:      %[[QA:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [4, 2, 128] : tensor<4x256xf8E4M3FN> into tensor<4x2x128xf8E4M3FN>
// CHECK:      %[[QW:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]] output_shape [576, 2, 128] : tensor<576x256xf8E4M3FN> into tensor<576x2x128xf8E4M3FN>
// CHECK:      %[[PART:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[QA]], %[[QW]] :
// CHECK:      linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[PART]], %{{.*}}, %{{.*}} : tensor<4x576x2xf32>, tensor<4x2xf32>, tensor<5x2xf32>)
// CHECK:        %[[A:.*]] = arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:        %[[B:.*]] = arith.mulf %[[A]], %{{.*}} : f32
// CHECK:        arith.addf %{{.*}}, %[[B]] : f32
func.func @linear_act_quant(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) act_quant(fp8_1x128) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  return %y : tensor<4x576xf32>
}

// -----

// High-precision weight: a plain f32-accumulated matmul with transposed B.
// CHECK-LABEL: func.func @linear_bf16
// CHECK:      linalg.generic
// CHECK:        arith.extf %{{.*}} : bf16 to f32
// CHECK:        arith.extf %{{.*}} : bf16 to f32
// CHECK:        arith.mulf
// CHECK:        arith.addf
// CHECK-NOT:  arith.truncf
func.func @linear_bf16(%x: tensor<4x64xbf16>, %w: tensor<8x64xbf16>) -> tensor<4x8xf32> {
  %y = dsv3.linear %x, %w : (tensor<4x64xbf16>, tensor<8x64xbf16>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// RMSNorm: Σx² in f32 per row, then (x * rsqrt(Σ/d + eps)) * w, one rounding.
// CHECK-LABEL: func.func @rms_norm
// CHECK:      linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:        arith.mulf
// CHECK:        arith.addf
// CHECK:      linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]
// CHECK:        arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:        arith.addf
// CHECK:        math.rsqrt
// CHECK:        arith.mulf
// CHECK:        arith.mulf
// CHECK:        arith.truncf %{{.*}} : f32 to bf16
func.func @rms_norm(%x: tensor<4x512xbf16>, %w: tensor<512xbf16>) -> tensor<4x512xbf16> {
  %y = dsv3.rms_norm %x, %w : (tensor<4x512xbf16>, tensor<512xbf16>) -> tensor<4x512xbf16>
  return %y : tensor<4x512xbf16>
}
