// RUN: dsv3-opt %s --split-input-file --dsv3-host-vectorize-fp8-linear | FileCheck %s
// RUN: not dsv3-opt %s --dsv3-host-vectorize-fp8-linear=vector-width=48 2>&1 | FileCheck %s --check-prefix=WIDTH

// Loops n -> token tiles of 4 -> 128-wide K blocks -> vector steps; one FP8
// weight vector widened per step feeds the 4 token accumulators; each block
// sum is scaled once by weight_scale_inv[n / 128, kb].
// CHECK-LABEL: func.func @decode
// CHECK:       scf.for %[[N:.*]] = %c0 to %c576 step %c1 iter_args(%[[Y:.*]] = %{{.*}}) -> (tensor<4x576xf32>)
// CHECK:         %[[NB:.*]] = arith.divui %[[N]], %c128
// CHECK:         scf.for %[[M0:.*]] = %c0 to %c4 step %c4
// CHECK:           scf.for %[[KB:.*]] = %c0 to %c2 step %c1 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, f32, f32)
// CHECK:             scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %c16 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK:               %[[W:.*]] = vector.transfer_read %{{.*}}[%[[N]], %[[K]]], %{{.*}} {in_bounds = [true]} : tensor<576x256xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:               %[[WF:.*]] = arith.extf %[[W]] : vector<16xf8E4M3FN> to vector<16xf32>
// CHECK:               vector.transfer_read %{{.*}} : tensor<4x256xbf16>, vector<16xbf16>
// CHECK:               vector.fma %{{.*}}, %[[WF]], %{{.*}} : vector<16xf32>
// CHECK-COUNT-3:       vector.fma
// CHECK:             %[[S:.*]] = tensor.extract %{{.*}}[%[[NB]], %[[KB]]] : tensor<5x2xf32>
// CHECK:             vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK:             arith.mulf %{{.*}}, %[[S]] : f32
// CHECK:           tensor.insert
// CHECK-NOT:   dsv3.linear
func.func @decode(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  return %y : tensor<4x576xf32>
}

// -----

// Activation-quantized and high-precision linears keep the linalg definition.
// CHECK-LABEL: func.func @untouched
// CHECK:       dsv3.linear {{.*}} act_quant(fp8_1x128)
// CHECK:       dsv3.linear {{.*}} : (tensor<4x256xbf16>, tensor<8x256xbf16>)
func.func @untouched(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>, %wb: tensor<8x256xbf16>) -> (tensor<4x576xf32>, tensor<4x8xf32>) {
  %0 = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) act_quant(fp8_1x128) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  %1 = dsv3.linear %x, %wb : (tensor<4x256xbf16>, tensor<8x256xbf16>) -> tensor<4x8xf32>
  return %0, %1 : tensor<4x576xf32>, tensor<4x8xf32>
}

// WIDTH: vector-width must divide 128, got 48
