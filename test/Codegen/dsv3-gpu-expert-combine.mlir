// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-expert-combine | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-expert-combine=shared-memory=false | FileCheck %s --check-prefix=SIM

// Two tokens, top-3 of 4 experts, 14 rows of 512 columns into bf16. One
// kernel with a block per (token, tile of 256 columns): a thread per pair
// finds its row (offsets[e] plus the earlier pairs of e, in i64) or -1 (an id
// outside [0, 4), a row outside [0, 14)) into shared memory; a thread per
// column adds w[t, k] · rows[row_k, c] for k = 0, 1, 2 from 0 in f32 and
// rounds once.
// CHECK-LABEL: func.func @decode
// CHECK-SAME:  %[[ROWS:[a-z0-9]+]]: tensor<14x512xf32>, %[[IDS:[a-z0-9]+]]: tensor<2x3xi32>, %[[W:[a-z0-9]+]]: tensor<2x3xf32>, %[[OFF:[a-z0-9]+]]: tensor<5xi64>
// CHECK:       %[[Y:.*]] = scf.forall (%[[T:.*]], %[[TILE:.*]]) in (2, 2) shared_outs(%[[YO:.*]] = %{{.*}}) -> (tensor<2x512xbf16>)
// CHECK:         %[[BUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<3xi64>
// CHECK:         %[[ROWOF:.*]] = scf.forall (%[[K:.*]]) in (3) shared_outs(%{{.*}} = %[[BUF]])
// CHECK:           %[[ID:.*]] = tensor.extract %[[IDS]][%[[T]], %[[K]]]
// CHECK:           %[[EARLIER:.*]] = scf.for
// CHECK:             arith.cmpi eq, %{{.*}}, %[[ID]] : i32
// CHECK:           %[[BASE:.*]] = tensor.extract %[[OFF]]
// CHECK:           %[[ROW:.*]] = arith.addi %[[BASE]], %[[EARLIER]] : i64
// CHECK:           arith.cmpi slt, %[[ROW]], %c14_i64
// CHECK:           arith.select %{{.*}}, %[[ROW]], %c-1_i64
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[C0:.*]] = arith.muli %[[TILE]], %c256
// CHECK:         tensor.extract_slice %[[YO]][%[[T]], %[[C0]]] [1, 256] [1, 1]
// CHECK:         scf.forall (%{{.*}}) in (256)
// CHECK:           scf.for %[[KK:.*]] = %{{.*}} to %c3 {{.*}} -> (f32)
// CHECK:             tensor.extract %[[ROWOF]][%[[KK]]]
// CHECK:             scf.if
// CHECK:               tensor.extract %[[ROWS]]
// CHECK:               tensor.extract %[[W]][%[[T]], %[[KK]]]
// CHECK:               %[[P:.*]] = arith.mulf
// CHECK:               arith.addf %{{.*}}, %[[P]] : f32
// CHECK:           arith.truncf %{{.*}} : f32 to bf16
// CHECK:         } {mapping = [#gpu.thread<x>]}
// A launch reads the 2 x 3 routed rows of 512 f32 (not all 14 rows), the
// ids, weights and offsets, and writes [2, 512] bf16; 2 x 3 x 512
// multiply-adds.
// CHECK:       } {dsv3.kernel_cost = {bytes = 14424 : i64, flops = 6144 : i64}, mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK:       return %[[Y]]
// SIM-LABEL:   func.func @decode
// SIM:         bufferization.alloc_tensor() : tensor<3xi64>
func.func @decode(%rows: tensor<14x512xf32>, %ids: tensor<2x3xi32>, %w: tensor<2x3xf32>, %off: tensor<5xi64>) -> tensor<2x512xbf16> {
  %y = dsv3.expert_combine %rows, %ids, %w, %off
      : (tensor<14x512xf32>, tensor<2x3xi32>, tensor<2x3xf32>, tensor<5xi64>) -> tensor<2x512xbf16>
  return %y : tensor<2x512xbf16>
}

// -----

// A dynamic token count, more than max-tokens, zero tokens: the definition.
// CHECK-LABEL: func.func @dynamic
// CHECK:       dsv3.expert_combine
func.func @dynamic(%rows: tensor<?x8xf32>, %ids: tensor<?x2xi32>, %w: tensor<?x2xf32>, %off: tensor<5xi64>) -> tensor<?x8xf32> {
  %y = dsv3.expert_combine %rows, %ids, %w, %off
      : (tensor<?x8xf32>, tensor<?x2xi32>, tensor<?x2xf32>, tensor<5xi64>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @many
// CHECK:       dsv3.expert_combine
func.func @many(%rows: tensor<130x8xf32>, %ids: tensor<65x2xi32>, %w: tensor<65x2xf32>, %off: tensor<5xi64>) -> tensor<65x8xf32> {
  %y = dsv3.expert_combine %rows, %ids, %w, %off
      : (tensor<130x8xf32>, tensor<65x2xi32>, tensor<65x2xf32>, tensor<5xi64>) -> tensor<65x8xf32>
  return %y : tensor<65x8xf32>
}

// CHECK-LABEL: func.func @none
// CHECK:       dsv3.expert_combine
func.func @none(%rows: tensor<4x8xf32>, %ids: tensor<0x2xi32>, %w: tensor<0x2xf32>, %off: tensor<5xi64>) -> tensor<0x8xf32> {
  %y = dsv3.expert_combine %rows, %ids, %w, %off
      : (tensor<4x8xf32>, tensor<0x2xi32>, tensor<0x2xf32>, tensor<5xi64>) -> tensor<0x8xf32>
  return %y : tensor<0x8xf32>
}

// An odd N over 65535 would need more than 65535 column tiles of one
// thread (#gpu.block<y>'s limit): the definition.
// CHECK-LABEL: func.func @wide
// CHECK:       dsv3.expert_combine
func.func @wide(%rows: tensor<2x65537xf32>, %ids: tensor<1x2xi32>, %w: tensor<1x2xf32>, %off: tensor<5xi64>) -> tensor<1x65537xf32> {
  %y = dsv3.expert_combine %rows, %ids, %w, %off
      : (tensor<2x65537xf32>, tensor<1x2xi32>, tensor<1x2xf32>, tensor<5xi64>) -> tensor<1x65537xf32>
  return %y : tensor<1x65537xf32>
}
