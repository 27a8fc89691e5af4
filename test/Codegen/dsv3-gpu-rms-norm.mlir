// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-rms-norm | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-rms-norm=shared-memory=false | FileCheck %s --check-prefix=SIM

// q_a_layernorm of one decode token: the [1, 1, 1536] input viewed as rows
// (the result's own shape collapsed likewise, so the kernel writes it in
// place); a block per row, 256 threads. Phase 1: thread t sums x^2 over
// columns t, t + 256, ... into 256 shared partials. Phase 2: one thread adds
// them in order and writes rsqrt(sum / 1536 + eps) to a shared scalar.
// Phase 3: thread t scales its 6 columns (a slice of stride 256) and rounds
// each to bf16 once.
// CHECK-LABEL: func.func @q_a_layernorm
// CHECK:       %[[X:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<1x1x1536xf32> into tensor<1x1536xf32>
// CHECK:       %[[E:.*]] = tensor.empty() : tensor<1x1x1536xbf16>
// CHECK:       %[[INIT:.*]] = tensor.collapse_shape %[[E]]
// CHECK:       %[[Y:.*]] = scf.forall (%[[ROW:.*]]) in (1) shared_outs(%[[OUT:.*]] = %[[INIT]])
// CHECK:         %[[PBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<256xf32>
// CHECK:         %[[P:.*]] = scf.forall (%[[T:.*]]) in (256) shared_outs(%{{.*}} = %[[PBUF]])
// CHECK:           scf.for %[[J:.*]] = %[[T]] to %c1536 step %c256
// CHECK:             tensor.extract %[[X]][%[[ROW]], %[[J]]]
// CHECK:             arith.mulf
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[SBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<1xf32>
// CHECK:         %[[S:.*]] = scf.forall (%{{.*}}) in (1) shared_outs(%{{.*}} = %[[SBUF]])
// CHECK:           scf.for {{.*}} = %c0{{(_[0-9]+)?}} to %c256
// CHECK:             tensor.extract %[[P]]
// CHECK:           arith.divf %{{.*}}, %{{.*}} : f32
// CHECK:           math.rsqrt
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[YROW:.*]] = tensor.extract_slice %[[OUT]][%[[ROW]], 0] [1, 1536] [1, 1]
// CHECK:         scf.forall (%[[T3:.*]]) in (256) shared_outs(%[[DST:.*]] = %[[YROW]])
// CHECK:           tensor.extract %[[S]][%c0{{(_[0-9]+)?}}]
// CHECK:           %[[MINE:.*]] = tensor.extract_slice %[[DST]][%[[T3]]] [6] [256]
// CHECK:           scf.for {{.*}} = %c0{{(_[0-9]+)?}} to %c6
// CHECK:             arith.truncf %{{.*}} : f32 to bf16
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[DST]][%[[T3]]] [6] [256]
// CHECK:         } {mapping = [#gpu.thread<x>]}
// What a launch moves: x (f32), the weight and y (bf16), each once.
// CHECK:       } {dsv3.kernel_cost = {bytes = 12288 : i64}, mapping = [#gpu.block<x>]}
// CHECK:       tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [1, 1, 1536]
// CHECK-NOT:   dsv3.rms_norm
// SIM-LABEL:   func.func @q_a_layernorm
// SIM:         bufferization.alloc_tensor() : tensor<256xf32>
// SIM:         bufferization.alloc_tensor() : tensor<1xf32>
func.func @q_a_layernorm(%x: tensor<1x1x1536xf32>) -> tensor<1x1x1536xbf16> {
  %g = dsv3.parameter "model.layers.0.self_attn.q_a_layernorm.weight" : tensor<1536xbf16>
  %y = dsv3.rms_norm %x, %g : (tensor<1x1x1536xf32>, tensor<1536xbf16>) -> tensor<1x1x1536xbf16>
  return %y : tensor<1x1x1536xbf16>
}

// -----

// Fewer columns than 256: as many threads as columns, one column each.
// CHECK-LABEL: func.func @narrow
// CHECK:       scf.forall (%{{.*}}) in (3)
// CHECK:         scf.forall (%{{.*}}) in (64)
// CHECK:         scf.forall (%{{.*}}) in (1)
// CHECK:         scf.forall (%{{.*}}) in (64)
// CHECK:           tensor.extract_slice %{{.*}}[%{{.*}}] [1] [64]
func.func @narrow(%x: tensor<3x64xbf16>) -> tensor<3x64xf32> {
  %g = dsv3.parameter "n.weight" : tensor<64xf32>
  %y = dsv3.rms_norm %x, %g eps(1.0e-05) : (tensor<3x64xbf16>, tensor<64xf32>) -> tensor<3x64xf32>
  return %y : tensor<3x64xf32>
}

// -----

// Left to the definition: a dynamic row count, and 300 columns (more than
// 256, not a multiple of it).
// CHECK-LABEL: func.func @not_taken
// CHECK-COUNT-2: dsv3.rms_norm
// CHECK-NOT:   scf.forall
func.func @not_taken(%x: tensor<?x512xf32>, %z: tensor<1x300xf32>) -> (tensor<?x512xf32>, tensor<1x300xf32>) {
  %g = dsv3.parameter "g" : tensor<512xf32>
  %h = dsv3.parameter "h" : tensor<300xf32>
  %y = dsv3.rms_norm %x, %g : (tensor<?x512xf32>, tensor<512xf32>) -> tensor<?x512xf32>
  %w = dsv3.rms_norm %z, %h : (tensor<1x300xf32>, tensor<300xf32>) -> tensor<1x300xf32>
  return %y, %w : tensor<?x512xf32>, tensor<1x300xf32>
}
