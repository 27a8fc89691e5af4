// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-expert-dispatch | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-expert-dispatch=shared-memory=false | FileCheck %s --check-prefix=SIM

// Two tokens, top-3 of 4 experts, alignment 3: R = 2·3 + 4·2 = 14 rows.
// Kernel 1 (named ..._offsets) is one block: a thread per expert counts its
// pairs into shared memory; a thread per expert and one for the total (5)
// adds the aligned counts before it into offsets; min(R, 256) = 14 threads
// fill row_to_token with -1, each a strided run of ceil((R - i) / 14) rows;
// a thread per pair (6) writes its token at offsets[e] plus the earlier
// pairs of e, or nothing (an empty slot) for an id outside [0, 4).
// CHECK-LABEL: func.func @decode
// CHECK-SAME:  %[[X:[a-z0-9]+]]: tensor<2x64xbf16>, %[[IDS:[a-z0-9]+]]: tensor<2x3xi32>
// CHECK:       %[[IDX:.*]]:2 = scf.forall (%{{.*}}) in (1) shared_outs(%[[OFF:.*]] = %{{.*}}, %[[TOK:.*]] = %{{.*}}) -> (tensor<5xi64>, tensor<14xi64>)
// CHECK:         %[[CBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<4xindex>
// CHECK:         %[[COUNTS:.*]] = scf.forall (%[[E:.*]]) in (4) shared_outs(%{{.*}} = %[[CBUF]])
// CHECK:           %[[EID:.*]] = arith.index_cast %[[E]] : index to i32
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c6
// CHECK:             tensor.extract %[[IDS]]
// CHECK:             arith.cmpi eq, %{{.*}}, %[[EID]] : i32
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[OFFS:.*]] = scf.forall (%[[E2:.*]]) in (5) shared_outs(%{{.*}} = %[[OFF]])
// CHECK:           scf.for %{{.*}} = %{{.*}} to %[[E2]]
// CHECK:             tensor.extract %[[COUNTS]]
// CHECK:             arith.ceildivui
// CHECK:             arith.muli
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[FILLED:.*]] = scf.forall (%[[I:.*]]) in (14) shared_outs(%[[T0:.*]] = %[[TOK]])
// CHECK:           %[[N:.*]] = arith.ceildivui
// CHECK:           tensor.extract_slice %[[T0]][%[[I]]] [%[[N]]] [14] : tensor<14xi64> to tensor<?xi64>
// CHECK:           arith.constant -1 : i64
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[ROWOF:.*]] = scf.forall (%[[P:.*]]) in (6) shared_outs(%[[T1:.*]] = %[[FILLED]])
// CHECK:           %[[ID:.*]] = tensor.extract %[[IDS]]
// CHECK:           %[[VALID:.*]] = arith.andi
// CHECK:           tensor.extract %[[OFFS]]
// CHECK:           scf.for %{{.*}} = %{{.*}} to %[[P]]
// CHECK:           %[[AT:.*]] = arith.select %[[VALID]]
// CHECK:           %[[SZ:.*]] = arith.select %[[VALID]]
// CHECK:           tensor.extract_slice %[[T1]][%[[AT]]] [%[[SZ]]] [1]
// CHECK:           scf.if %[[VALID]]
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:       } {mapping = [#gpu.block<x>]}
// Kernel 2 (..._rows): a block per row, 64 threads over the columns; x's row
// of the row's token, or zeros.
// CHECK:       %[[ROWS:.*]] = scf.forall (%[[R:.*]]) in (14) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<14x64xbf16>)
// CHECK:         %[[T:.*]] = tensor.extract %[[IDX]]#1[%[[R]]] : tensor<14xi64>
// CHECK:         %[[HAS:.*]] = arith.cmpi sge, %[[T]]
// CHECK:         scf.forall (%{{.*}}) in (64)
// CHECK:           scf.if %[[HAS]] -> (bf16)
// CHECK:             tensor.extract %[[X]]
// CHECK:           arith.constant 0.000000e+00 : bf16
// CHECK:       } {mapping = [#gpu.block<x>]}
// CHECK:       return %[[ROWS]], %[[IDX]]#0, %[[IDX]]#1
// SIM-LABEL:   func.func @decode
// SIM:         bufferization.alloc_tensor() : tensor<4xindex>
func.func @decode(%x: tensor<2x64xbf16>, %ids: tensor<2x3xi32>) -> (tensor<14x64xbf16>, tensor<5xi64>, tensor<14xi64>) {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(3)
      : (tensor<2x64xbf16>, tensor<2x3xi32>) -> tensor<14x64xbf16>, tensor<5xi64>, tensor<14xi64>
  return %rows, %off, %tok : tensor<14x64xbf16>, tensor<5xi64>, tensor<14xi64>
}

// -----

// A dynamic token count, more than max-tokens (64) tokens, zero tokens: the
// definition.
// CHECK-LABEL: func.func @dynamic
// CHECK:       dsv3.expert_dispatch
func.func @dynamic(%x: tensor<?x64xbf16>, %ids: tensor<?x2xi32>) -> tensor<?x64xbf16> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1)
      : (tensor<?x64xbf16>, tensor<?x2xi32>) -> tensor<?x64xbf16>, tensor<5xi64>, tensor<?xi64>
  return %rows : tensor<?x64xbf16>
}

// CHECK-LABEL: func.func @many
// CHECK:       dsv3.expert_dispatch
func.func @many(%x: tensor<65x64xbf16>, %ids: tensor<65x2xi32>) -> tensor<130x64xbf16> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1)
      : (tensor<65x64xbf16>, tensor<65x2xi32>) -> tensor<130x64xbf16>, tensor<5xi64>, tensor<130xi64>
  return %rows : tensor<130x64xbf16>
}

// CHECK-LABEL: func.func @none
// CHECK:       dsv3.expert_dispatch
func.func @none(%x: tensor<0x64xbf16>, %ids: tensor<0x2xi32>) -> tensor<0x64xbf16> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1)
      : (tensor<0x64xbf16>, tensor<0x2xi32>) -> tensor<0x64xbf16>, tensor<5xi64>, tensor<0xi64>
  return %rows : tensor<0x64xbf16>
}
