// RUN: dsv3-opt %s --dsv3-expand-fp8-casts | FileCheck %s

// e4m3 -> f32: bits into an f32 with a bias off by 120, times 2^120; 0x7F is NaN.
// CHECK-LABEL: func.func @ext_e4m3
// CHECK-NOT:   arith.extf
// CHECK:       arith.bitcast %{{.*}} : f8E4M3FN to i8
// CHECK:       arith.extui %{{.*}} : i8 to i32
// CHECK:       arith.mulf %{{.*}}, %{{.*}} : f32
// CHECK:       arith.cmpi eq
// CHECK:       arith.select
func.func @ext_e4m3(%x: f8E4M3FN) -> f32 {
  %y = arith.extf %x : f8E4M3FN to f32
  return %y : f32
}

// Vectors keep their shape; the f32 -> bf16 step stays an arith.truncf.
// CHECK-LABEL: func.func @ext_e4m3_vector_bf16
// CHECK:       arith.bitcast %{{.*}} : vector<16xf8E4M3FN> to vector<16xi8>
// CHECK:       arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
func.func @ext_e4m3_vector_bf16(%x: vector<16xf8E4M3FN>) -> vector<16xbf16> {
  %y = arith.extf %x : vector<16xf8E4M3FN> to vector<16xbf16>
  return %y : vector<16xbf16>
}

// f32 -> e4m3: RNE on the mantissa for normals, roundeven(|x| * 2^9) for
// subnormals, NaN/overflow to 0x7F, sign or-ed back.
// CHECK-LABEL: func.func @trunc_e4m3
// CHECK-NOT:   arith.truncf
// CHECK:       arith.bitcast %{{.*}} : f32 to i32
// CHECK:       math.roundeven
// CHECK:       arith.fptoui
// CHECK:       arith.trunci %{{.*}} : i32 to i8
// CHECK:       arith.bitcast %{{.*}} : i8 to f8E4M3FN
func.func @trunc_e4m3(%x: f32) -> f8E4M3FN {
  %y = arith.truncf %x : f32 to f8E4M3FN
  return %y : f8E4M3FN
}

// CHECK-LABEL: func.func @e8m0
// CHECK-NOT:   arith.extf
// CHECK-NOT:   arith.truncf
// CHECK:       arith.bitcast %{{.*}} : i8 to f8E8M0FNU
func.func @e8m0(%x: f8E8M0FNU, %y: f32) -> (f32, f8E8M0FNU) {
  %a = arith.extf %x : f8E8M0FNU to f32
  %b = arith.truncf %y : f32 to f8E8M0FNU
  return %a, %b : f32, f8E8M0FNU
}

// Other casts are left alone.
// CHECK-LABEL: func.func @untouched
// CHECK:       arith.extf %{{.*}} : f16 to f32
func.func @untouched(%x: f16) -> f32 {
  %y = arith.extf %x : f16 to f32
  return %y : f32
}
