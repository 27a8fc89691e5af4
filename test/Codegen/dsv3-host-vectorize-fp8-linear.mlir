// RUN: dsv3-opt %s --split-input-file --dsv3-host-vectorize-fp8-linear | FileCheck %s
// RUN: not dsv3-opt %s --dsv3-host-vectorize-fp8-linear=vector-width=48 2>&1 | FileCheck %s --check-prefix=WIDTH

// Activations widened to f32 once; rows n split over the threads
// (scf.forall, each writes its column); per row the 4 tokens form one tile:
// one FP8 weight vector widened per step (sign-extend, shift, mask, f16 ->
// f32: the code's value times 2^-8) feeds the 4 token accumulators; each
// 128-wide block sum is scaled once by weight_scale_inv[n / 128, kb] * 2^8.
// CHECK-LABEL: func.func @decode
// CHECK-DAG:   %[[MASK:.*]] = arith.constant dense<-16512> : vector<8xi16>
// CHECK-DAG:   %[[SEVEN:.*]] = arith.constant dense<7> : vector<8xi16>
// CHECK-DAG:   %[[TWO8:.*]] = arith.constant 2.560000e+02 : f32
// CHECK:       %[[X:.*]] = linalg.copy ins(%{{.*}} : tensor<4x256xbf16>) outs(%{{.*}} : tensor<4x256xf32>)
// CHECK:       scf.forall (%[[N:.*]]) in (576) shared_outs(%[[Y:.*]] = %{{.*}}) -> (tensor<4x576xf32>)
// CHECK:         %[[COL:.*]] = tensor.extract_slice %[[Y]][0, %[[N]]] [4, 1] [1, 1]
// CHECK:         scf.for %[[M0:.*]] = %c0 to %c4 step %c4 iter_args(%{{.*}} = %[[COL]])
// CHECK:           %[[NB:.*]] = arith.divui %[[N]], %c128
// CHECK:           scf.for %[[KB:.*]] = %c0 to %c2 step %c1 iter_args({{.*}}) -> (f32, f32, f32, f32)
// CHECK:             scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:               %[[W:.*]] = vector.transfer_read %{{.*}}[%[[N]], %[[K]]], %{{.*}} {in_bounds = [true]} : tensor<576x256xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:               %[[B:.*]] = arith.bitcast %[[W]] : vector<8xf8E4M3FN> to vector<8xi8>
// CHECK:               %[[E:.*]] = arith.extsi %[[B]] : vector<8xi8> to vector<8xi16>
// CHECK:               %[[S:.*]] = arith.shli %[[E]], %[[SEVEN]]
// CHECK:               %[[A:.*]] = arith.andi %[[S]], %[[MASK]]
// CHECK:               %[[H:.*]] = arith.bitcast %[[A]] : vector<8xi16> to vector<8xf16>
// CHECK:               %[[WF:.*]] = arith.extf %[[H]] : vector<8xf16> to vector<8xf32>
// CHECK:               vector.transfer_read %[[X]][%[[M0]], %[[K]]]{{.*}} : tensor<4x256xf32>, vector<8xf32>
// CHECK:               vector.fma %{{.*}}, %[[WF]], %{{.*}} : vector<8xf32>
// CHECK-COUNT-3:       vector.fma %{{.*}}, %[[WF]]
// CHECK:             %[[SC:.*]] = tensor.extract %{{.*}}[%[[NB]], %[[KB]]] : tensor<5x2xf32>
// CHECK:             %[[SC8:.*]] = arith.mulf %[[SC]], %[[TWO8]] : f32
// CHECK:             vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<8xf32> into f32
// CHECK:             arith.mulf %{{.*}}, %[[SC8]] : f32
// CHECK:           tensor.insert
// CHECK:         scf.forall.in_parallel
// CHECK-NEXT:      tensor.parallel_insert_slice %{{.*}} into %[[Y]][0, %[[N]]] [4, 1] [1, 1]
// CHECK-NOT:   dsv3.linear
func.func @decode(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  return %y : tensor<4x576xf32>
}

// -----

// A static M of 13: one tile of 8, one of 4, one of 1 (no tile of 2).
// CHECK-LABEL: func.func @thirteen
// CHECK:       scf.for %{{.*}} = %c0 to %c8 step %c8
// CHECK-COUNT-8: vector.fma
// CHECK:       scf.for %{{.*}} = %c8 to %c12 step %c4
// CHECK-COUNT-4: vector.fma
// CHECK:       scf.for %{{.*}} = %c12 to %c13 step %c1
// CHECK-COUNT-1: vector.fma
// CHECK-NOT:   vector.fma
func.func @thirteen(%x: tensor<13x128xf32>, %w: tensor<128x128xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<13x128xbf16> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<13x128xf32>, tensor<128x128xf8E4M3FN>) -> tensor<13x128xbf16>
  return %y : tensor<13x128xbf16>
}

// -----

// A dynamic M: tiles of 8 up to 8 * (M / 8), then at most one each of 4, 2
// and 1 over what is left; f32 activations are read as they are.
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT:   linalg.copy
// CHECK:       %[[M:.*]] = tensor.dim %{{.*}}, %c0
// CHECK:       scf.forall
// CHECK:         %[[D8:.*]] = arith.divui %[[M]], %c8
// CHECK:         %[[E8:.*]] = arith.muli %[[D8]], %c8
// CHECK:         scf.for %{{.*}} = %c0 to %[[E8]] step %c8
// CHECK:         %[[L4:.*]] = arith.subi %[[M]], %[[E8]]
// CHECK:         %[[D4:.*]] = arith.divui %[[L4]], %c4
// CHECK:         %[[T4:.*]] = arith.muli %[[D4]], %c4
// CHECK:         %[[E4:.*]] = arith.addi %[[E8]], %[[T4]]
// CHECK:         scf.for %{{.*}} = %[[E8]] to %[[E4]] step %c4
// CHECK:         scf.for %{{.*}} = %[[E4]] to %[[E2:.*]] step %c2
// CHECK:         scf.for %{{.*}} = %[[E2]] to %{{.*}} step %c1
func.func @dynamic(%x: tensor<?x128xf32>, %w: tensor<128x128xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<?x128xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<?x128xf32>, tensor<128x128xf8E4M3FN>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// Activation-quantized linears keep the linalg definition; a bf16 weight
// gets the row kernel with the weight widened by extf and one sum over K
// (no block scale).
// CHECK-LABEL: func.func @untouched
// CHECK:       dsv3.linear {{.*}} act_quant(fp8_1x128)
// CHECK:       scf.forall (%{{.*}}) in (8)
// CHECK:         scf.for %{{.*}} = %c0 to %c1 step %c1
// CHECK:           vector.transfer_read {{.*}} : tensor<8x256xbf16>, vector<8xbf16>
// CHECK:           arith.extf %{{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK-NOT:       arith.mulf
// CHECK:         scf.forall.in_parallel
func.func @untouched(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>, %wb: tensor<8x256xbf16>) -> (tensor<4x576xf32>, tensor<4x8xf32>) {
  %0 = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) act_quant(fp8_1x128) : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  %1 = dsv3.linear %x, %wb : (tensor<4x256xbf16>, tensor<8x256xbf16>) -> tensor<4x8xf32>
  return %0, %1 : tensor<4x576xf32>, tensor<4x8xf32>
}

// -----

// A grouped GEMM over a dispatch's segments: the result starts as zeros (the
// unused tail), (row block of 16, expert) pairs in parallel; expert e's rows
// [offsets[e], offsets[e + 1]) (clamped to [0, R]) run in token tiles
// against its weight and block scale, written as one rectangle.
// CHECK-LABEL: func.func @grouped
// CHECK:       %[[ROWS:.*]], %[[OFF:.*]], %{{.*}} = dsv3.expert_dispatch
// CHECK:       %[[X:.*]] = linalg.copy ins(%[[ROWS]] : tensor<8x256xbf16>) outs(%{{.*}} : tensor<8x256xf32>)
// CHECK:       %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<8x64xf32>)
// CHECK:       scf.forall (%[[B:.*]], %[[E:.*]]) in (4, 8) shared_outs(%[[Y:.*]] = %[[Z]])
// CHECK:         tensor.extract %[[OFF]][%[[E]]] : tensor<9xi64>
// CHECK:         %[[E1:.*]] = arith.addi %[[E]], %c1
// CHECK:         tensor.extract %[[OFF]][%[[E1]]] : tensor<9xi64>
// CHECK:         %[[N0:.*]] = arith.muli %[[B]], %c16
// CHECK:         %[[PART:.*]] = tensor.extract_slice %[[Y]][%[[LO:.*]], %[[N0]]] [%[[CNT:.*]], 16] [1, 1]
// CHECK:         scf.for %[[N:.*]] = %[[N0]] to %{{.*}} step %c1 iter_args(%{{.*}} = %[[PART]])
// CHECK:           scf.for %{{.*}} step %c8
// CHECK:             vector.transfer_read %{{.*}}[%[[E]], %[[N]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<8x64x256xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:             tensor.extract %{{.*}}[%[[E]], %{{.*}}, %{{.*}}] : tensor<8x1x2xf32>
// CHECK:         scf.forall.in_parallel
// CHECK-NEXT:      tensor.parallel_insert_slice %{{.*}} into %[[Y]][%[[LO]], %[[N0]]] [%[[CNT]], 16] [1, 1]
// CHECK-NOT:   dsv3.grouped_matmul
func.func @grouped(%x: tensor<4x256xbf16>, %ids: tensor<4x2xi32>, %w: tensor<8x64x256xf8E4M3FN>, %s: tensor<8x1x2xf32>) -> tensor<8x64xf32> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4x256xbf16>, tensor<4x2xi32>) -> tensor<8x256xbf16>, tensor<9xi64>, tensor<8xi64>
  %y = dsv3.grouped_matmul %rows, %w, %off weight_scale_inv(%s : tensor<8x1x2xf32>) : (tensor<8x256xbf16>, tensor<8x64x256xf8E4M3FN>, tensor<9xi64>) -> tensor<8x64xf32>
  return %y : tensor<8x64xf32>
}

// -----

// Offsets from anywhere else keep the definition (the segments are the
// definition's rows only for a dispatch's nondecreasing offsets).
// CHECK-LABEL: func.func @grouped_offsets_given
// CHECK:       dsv3.grouped_matmul
func.func @grouped_offsets_given(%rows: tensor<8x256xbf16>, %off: tensor<9xi64>, %w: tensor<8x64x256xf8E4M3FN>, %s: tensor<8x1x2xf32>) -> tensor<8x64xf32> {
  %y = dsv3.grouped_matmul %rows, %w, %off weight_scale_inv(%s : tensor<8x1x2xf32>) : (tensor<8x256xbf16>, tensor<8x64x256xf8E4M3FN>, tensor<9xi64>) -> tensor<8x64xf32>
  return %y : tensor<8x64xf32>
}
// WIDTH: vector-width must divide 128, got 48
