// RUN: dsv3-opt %s --pass-pipeline='builtin.module(gpu.module(dsv3-lower-fp8-casts-to-nvvm))' | FileCheck %s

gpu.module @kernels {
  // The value is operand b, so it lands in the LOW byte of the i16
  // (cvt.rn.satfinite.e4m3x2.f32 d, a, b puts a in bits 15:8).
  // CHECK-LABEL: gpu.func @trunc_f32
  // CHECK-SAME: (%[[X:.*]]: f32)
  // CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
  // CHECK: %[[P:.*]] = nvvm.convert.f32x2.to.f8x2 %[[ZERO]], %[[X]] {rnd = #nvvm.fp_rnd_mode<rn>, sat = #nvvm.sat_mode<satfinite>} : i16(f8E4M3FN)
  // CHECK: %[[B:.*]] = arith.trunci %[[P]] : i16 to i8
  // CHECK: %[[R:.*]] = arith.bitcast %[[B]] : i8 to f8E4M3FN
  // CHECK: gpu.return %[[R]]
  gpu.func @trunc_f32(%x: f32) -> f8E4M3FN {
    %r = arith.truncf %x : f32 to f8E4M3FN
    gpu.return %r : f8E4M3FN
  }

  // f16 -> f32 is exact, so one rounding from f32.
  // CHECK-LABEL: gpu.func @trunc_f16
  // CHECK: %[[W:.*]] = arith.extf %{{.*}} : f16 to f32
  // CHECK: nvvm.convert.f32x2.to.f8x2 %{{.*}}, %[[W]]
  gpu.func @trunc_f16(%x: f16) -> f8E4M3FN {
    %r = arith.truncf %x : f16 to f8E4M3FN
    gpu.return %r : f8E4M3FN
  }

  // CHECK-LABEL: gpu.func @ext_f32
  // CHECK-SAME: (%[[Q:.*]]: f8E4M3FN)
  // CHECK: %[[B:.*]] = arith.bitcast %[[Q]] : f8E4M3FN to i8
  // CHECK: %[[V:.*]] = vector.broadcast %[[B]] : i8 to vector<2xi8>
  // CHECK: %[[H2:.*]] = nvvm.convert.f8x2.to.f16x2 %[[V]] : vector<2xi8>(f8E4M3FN) -> vector<2xf16>
  // CHECK: %[[H:.*]] = vector.extract %[[H2]][0] : f16 from vector<2xf16>
  // CHECK: %[[F:.*]] = arith.extf %[[H]] : f16 to f32
  // CHECK: gpu.return %[[F]]
  gpu.func @ext_f32(%q: f8E4M3FN) -> f32 {
    %r = arith.extf %q : f8E4M3FN to f32
    gpu.return %r : f32
  }

  // CHECK-LABEL: gpu.func @ext_f16
  // CHECK: %[[H2:.*]] = nvvm.convert.f8x2.to.f16x2
  // CHECK: %[[H:.*]] = vector.extract %[[H2]][0]
  // CHECK-NEXT: gpu.return %[[H]] : f16
  gpu.func @ext_f16(%q: f8E4M3FN) -> f16 {
    %r = arith.extf %q : f8E4M3FN to f16
    gpu.return %r : f16
  }

  // bf16 goes through f32 (f16 -> bf16 is not an extf); both steps exact.
  // CHECK-LABEL: gpu.func @ext_bf16
  // CHECK: %[[H:.*]] = vector.extract
  // CHECK: %[[F:.*]] = arith.extf %[[H]] : f16 to f32
  // CHECK: arith.truncf %[[F]] : f32 to bf16
  gpu.func @ext_bf16(%q: f8E4M3FN) -> bf16 {
    %r = arith.extf %q : f8E4M3FN to bf16
    gpu.return %r : bf16
  }

  // E8M0 and vector casts are left for dsv3-expand-fp8-casts.
  // CHECK-LABEL: gpu.func @untouched
  // CHECK-NOT: nvvm.
  // CHECK: arith.extf %{{.*}} : f8E8M0FNU to f32
  // CHECK: arith.truncf %{{.*}} : vector<2xf32> to vector<2xf8E4M3FN>
  gpu.func @untouched(%s: f8E8M0FNU, %v: vector<2xf32>) -> (f32, vector<2xf8E4M3FN>) {
    %a = arith.extf %s : f8E8M0FNU to f32
    %b = arith.truncf %v : vector<2xf32> to vector<2xf8E4M3FN>
    gpu.return %a, %b : f32, vector<2xf8E4M3FN>
  }
}
