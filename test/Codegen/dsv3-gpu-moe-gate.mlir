// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-moe-gate | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-moe-gate=shared-memory=false | FileCheck %s --check-prefix=SIM

// DeepSeek-V3's router at one token: the logits become a dsv3.linear of the
// unscaled gate weight (f32 result), then one block per token. Phase 1: a
// thread per expert, sigmoid and biased key. Phase 2: a thread per group,
// the sum of its two largest keys (a running top-2). Phase 3: a thread per
// expert, its group's rank (score descending, then index) against
// topk_group 4; NaN and rejected keys become -inf. Phase 4: a thread per
// expert counts the experts that beat it and writes its index at that rank.
// Phase 5: one thread gathers the unbiased scores of ranks 0..7, divides by
// their sum + 1e-20, multiplies by 2.5.
// CHECK-LABEL: func.func @v3
// CHECK:       %[[U:.*]] = dsv3.linear %{{.*}}, %{{.*}} : (tensor<1x7168xbf16>, tensor<256x7168xbf16>) -> tensor<1x256xf32>
// CHECK:       scf.forall (%[[T:.*]]) in (1) shared_outs(%[[W:.*]] = %{{.*}}, %[[I:.*]] = %{{.*}}) -> (tensor<1x8xf32>, tensor<1x8xi32>)
// CHECK:         %[[S:.*]]:2 = scf.forall (%[[E:.*]]) in (256) shared_outs
// CHECK:           tensor.extract %[[U]][%[[T]], %[[E]]]
// CHECK:           arith.negf
// CHECK:           math.exp
// CHECK:           arith.divf
// CHECK:           arith.addf
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[G:.*]] = scf.forall (%{{.*}}) in (8) shared_outs
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} -> (f32, f32)
// CHECK:             tensor.extract %[[S]]#1
// CHECK:           arith.addf
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[SEL:.*]] = scf.forall (%{{.*}}) in (256) shared_outs
// CHECK:           arith.cmpf uno
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c8{{.*}} -> (index)
// CHECK:             tensor.extract %[[G]]
// CHECK:           arith.cmpi ult, %{{.*}}, %c4
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[OBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<256xindex>
// CHECK:         %[[ORDER:.*]] = scf.forall (%[[E2:.*]]) in (256) shared_outs(%[[O:.*]] = %[[OBUF]])
// CHECK:           %[[RANK:.*]] = scf.for %{{.*}} = %c0{{.*}} to %c256{{.*}} -> (index)
// CHECK:             tensor.extract %[[SEL]]
// CHECK:             arith.cmpf ogt
// CHECK:             arith.cmpf oeq
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[O]][%[[RANK]]] [1] [1]
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[WROW:.*]] = tensor.extract_slice %[[W]][%[[T]], 0] [1, 8] [1, 1]
// CHECK:         %[[IROW:.*]] = tensor.extract_slice %[[I]][%[[T]], 0] [1, 8] [1, 1]
// CHECK:         scf.forall (%{{.*}}) in (1) shared_outs(%{{.*}} = %[[WROW]], %{{.*}} = %[[IROW]])
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c8
// CHECK:             tensor.extract %[[ORDER]]
// CHECK:             tensor.extract %[[S]]#0
// CHECK-COUNT-8:   arith.index_cast %{{.*}} : index to i32
// CHECK:         } {mapping = [#gpu.thread<x>]}
// The selection kernel reads the [1, 256] f32 logits and the bias, writes
// the 8 weights and ids (its cost; the logits' GEMV has its own).
// CHECK:       } {dsv3.kernel_cost = {bytes = 2112 : i64}, mapping = [#gpu.block<x>]}
// CHECK-NOT:   dsv3.moe_gate
// SIM-LABEL:   func.func @v3
// SIM-NOT:     #gpu.address_space<workgroup>
// SIM:         mapping = [#gpu.block<x>]}
func.func @v3(%x: tensor<1x7168xbf16>, %w: tensor<256x7168xbf16>, %b: tensor<256xf32>) -> (tensor<1x8xf32>, tensor<1x8xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<256xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8)
      topk_group(4) norm_topk_prob routed_scaling_factor(2.5)
      : (tensor<1x7168xbf16>, tensor<256x7168xbf16>) -> tensor<1x8xf32>, tensor<1x8xi32>
  return %wt, %ids : tensor<1x8xf32>, tensor<1x8xi32>
}

// -----

// V2's router (softmax, the largest key per group, no renormalisation): one
// thread first takes the row's max (maxnumf) and Σ exp; phase 2 keeps only
// the running maximum. No bias operand: the key is the score.
// CHECK-LABEL: func.func @v2
// CHECK:       scf.forall (%{{.*}}) in (3) shared_outs
// CHECK:         scf.forall (%{{.*}}) in (1) shared_outs
// CHECK:           arith.maxnumf
// CHECK:           math.exp
// CHECK:         scf.forall (%{{.*}}) in (16) shared_outs
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:           arith.divf
// CHECK-NOT:       arith.addf
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         scf.forall (%{{.*}}) in (4) shared_outs
// CHECK-NOT:       arith.addf
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK-NOT:   dsv3.moe_gate
func.func @v2(%x: tensor<3x64xf32>, %w: tensor<16x64xf32>) -> (tensor<3x3xf32>, tensor<3x3xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(group_limited_greedy) top_k(3) n_group(4)
      topk_group(2) routed_scaling_factor(16.0)
      : (tensor<3x64xf32>, tensor<16x64xf32>) -> tensor<3x3xf32>, tensor<3x3xi32>
  return %wt, %ids : tensor<3x3xf32>, tensor<3x3xi32>
}

// -----

// Left to the definition: a prefill of any length, and more tokens than
// max-tokens (64).
// CHECK-LABEL: func.func @prefill
// CHECK:       dsv3.moe_gate
// CHECK-LABEL: func.func @many
// CHECK:       dsv3.moe_gate
func.func @prefill(%x: tensor<?x64xf32>, %w: tensor<16x64xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(2)
      : (tensor<?x64xf32>, tensor<16x64xf32>) -> tensor<?x2xf32>, tensor<?x2xi32>
  return %wt, %ids : tensor<?x2xf32>, tensor<?x2xi32>
}
func.func @many(%x: tensor<65x64xf32>, %w: tensor<16x64xf32>) -> (tensor<65x2xf32>, tensor<65x2xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w scoring_func(softmax) topk_method(greedy) top_k(2)
      : (tensor<65x64xf32>, tensor<16x64xf32>) -> tensor<65x2xf32>, tensor<65x2xi32>
  return %wt, %ids : tensor<65x2xf32>, tensor<65x2xi32>
}

// -----

// A router on given logits (no weight): the blocks read the input itself;
// no linear is made.
// CHECK-LABEL: func.func @logits
// CHECK-SAME:    (%[[U:.*]]: tensor<2x16xf32>
// CHECK-NOT:   dsv3.linear
// CHECK:       scf.forall (%[[T:.*]]) in (2) shared_outs
// CHECK:         tensor.extract %[[U]][%[[T]], %{{.*}}]
// CHECK-NOT:   dsv3.moe_gate
func.func @logits(%u: tensor<2x16xf32>) -> (tensor<2x3xf32>, tensor<2x3xi32>) {
  %wt, %ids = dsv3.moe_gate %u scoring_func(sigmoid) topk_method(greedy) top_k(3) : (tensor<2x16xf32>) -> tensor<2x3xf32>, tensor<2x3xi32>
  return %wt, %ids : tensor<2x3xf32>, tensor<2x3xi32>
}
