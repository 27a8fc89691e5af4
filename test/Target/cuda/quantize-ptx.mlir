// The E4M3 casts of a quantize/dequantize round trip lower to the sm_89+
// conversion instructions (dsv3-lower-fp8-casts-to-nvvm), and everything else
// in the kernels lowers too. --emit=ptx needs no ptxas.
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o - | FileCheck %s

// CHECK: // gpu.binary @quant_quantize
// CHECK: .version 8.0
// CHECK: .target sm_90a

// truncf: clamp to ±448, then cvt with zero in operand a (HIGH byte) and the
// value in operand b (LOW byte); the stored byte is the low byte.
// CHECK: min.NaN.f32 %r{{[0-9]+}}, %r{{[0-9]+}}, 0f43E00000;
// CHECK: max.NaN.f32 %r[[V:[0-9]+]], %r{{[0-9]+}}, 0fC3E00000;
// CHECK: mov.b32 %r[[Z:[0-9]+]], 0f00000000;
// CHECK: cvt.rn.satfinite.e4m3x2.f32 %rs[[D:[0-9]+]], %r[[Z]], %r[[V]];
// CHECK: st.global.b8 [%rd{{[0-9]+}}], %rs[[D]];
func.func @quant(%x: tensor<4x256xf32>) -> (tensor<4x256xf8E4M3FN>, tensor<4x2xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x256xf32> -> tensor<4x256xf8E4M3FN>, tensor<4x2xf32>
  return %q, %s : tensor<4x256xf8E4M3FN>, tensor<4x2xf32>
}

// extf: the byte in both lanes of cvt.rn.f16x2.e4m3x2, lane 0 (the low
// half), then f16 -> f32.
// CHECK: // gpu.binary @dequant_dequantize
// CHECK: ld.global.b8 %rs[[B:[0-9]+]]
// CHECK: shl.b16 %rs[[HI:[0-9]+]], %rs[[B]], 8;
// CHECK: or.b16 %rs[[P:[0-9]+]], %rs[[B]], %rs[[HI]];
// CHECK: cvt.rn.f16x2.e4m3x2 %r[[H2:[0-9]+]], %rs[[P]];
// CHECK: mov.b32 {%rs[[H:[0-9]+]], _}, %r[[H2]];
// CHECK: cvt.f32.f16 %r{{[0-9]+}}, %rs[[H]];
// CHECK-NOT: unrealized_conversion_cast
func.func @dequant(%q: tensor<4x256xf8E4M3FN>, %s: tensor<4x2xf32>) -> tensor<4x256xf32> {
  %y = dsv3.dequantize %q, %s block [1, 128] : tensor<4x256xf8E4M3FN>, tensor<4x2xf32> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
