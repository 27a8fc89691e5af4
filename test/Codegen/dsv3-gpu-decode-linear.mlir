// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-decode-linear | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-decode-linear=shared-memory=false | FileCheck %s --check-prefix=SIM
// RUN: dsv3-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(dsv3-gpu-decode-linear{max-tokens=1 max-rows=4}))' | FileCheck %s --check-prefix=MAX1

// q_a_proj of a decode step (1 token; N = 1536 = 192 blocks of 8 rows). Per
// block, [8 rows, 32 lanes, 1 token] partial sums in shared memory. Phase 1
// (row, lane) = (thread y, thread x): lane l reads the 16 FP8 codes at
// k = 16 l + 512 j, widens them exactly (arith.extf), scales them by
// weight_scale_inv[n / 128, k / 128], and adds the dot product with
// each token's 16 activations to the token's sum; the sums go to the lane's
// slot. 7168 = 14 whole chunks of 512 and no tail; the chunk loop is
// unrolled 7 times (the largest divisor of 14 up to 8 / tokens), so that a
// lane's loads are in flight together. Phase 2 (row, token): the 32 lane sums in lane order, rounded to bf16.
// CHECK-LABEL: func.func @q_a_proj
// CHECK:       %[[Y0:.*]] = tensor.empty() : tensor<1x1536xbf16>
// CHECK:       scf.forall (%[[B:.*]]) in (192) shared_outs(%[[Y:.*]] = %[[Y0]]) -> (tensor<1x1536xbf16>)
// CHECK:         %[[N0:.*]] = arith.muli %[[B]], %c8
// CHECK:         %[[SMEM:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<8x32x1xf32>
// CHECK:         %[[P:.*]] = scf.forall (%[[W:.*]], %[[L:.*]]) in (8, 32) shared_outs(%[[PS:.*]] = %[[SMEM]])
// CHECK:           %[[N:.*]] = arith.addi %[[N0]], %[[W]]
// CHECK:           %[[K0:.*]] = arith.muli %[[L]], %c16
// CHECK:           %[[SUM:.*]] = scf.for %[[J:.*]] = %c0{{(_[0-9]+)?}} to %c14 step %c7 iter_args(%[[ACC:.*]] = %{{.*}}) -> (vector<1xf32>)
// CHECK:             %[[JK:.*]] = arith.muli %[[J]], %c512
// CHECK:             %[[K:.*]] = arith.addi %[[K0]], %[[JK]]
// CHECK:             %[[CODES:.*]] = vector.transfer_read %{{.*}}[%[[N]], %[[K]]], %{{.*}} {in_bounds = [true]} : tensor<1536x7168xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:             %[[WF:.*]] = arith.extf %[[CODES]] : vector<16xf8E4M3FN> to vector<16xf32>
// CHECK:             %[[SR:.*]] = arith.divui %[[N]], %c128
// CHECK:             %[[SC:.*]] = arith.divui %[[K]], %c128
// CHECK:             %[[S:.*]] = tensor.extract %{{.*}}[%[[SR]], %[[SC]]] : tensor<12x56xf32>
// CHECK:             %[[SV:.*]] = vector.broadcast %[[S]] : f32 to vector<16xf32>
// CHECK:             arith.mulf %[[WF]], %[[SV]] : vector<16xf32>
// CHECK:             %[[X:.*]] = vector.transfer_read %{{.*}}[%c0{{(_[0-9]+)?}}, %[[K]]], %{{.*}} {in_bounds = [true]} : tensor<1x7168xbf16>, vector<16xbf16>
// CHECK:             vector.reduction <add>, %{{.*}} : vector<16xf32> into f32
// CHECK-COUNT-6:     vector.transfer_read %{{.*}} : tensor<1536x7168xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:             scf.yield %{{.*}} : vector<1xf32>
// CHECK:           %[[SLOT:.*]] = tensor.extract_slice %[[PS]][%[[W]], %[[L]], 0] [1, 1, 1] [1, 1, 1] : tensor<8x32x1xf32> to tensor<1xf32>
// CHECK:           tensor.insert %{{.*}} into %[[SLOT]][%c0{{(_[0-9]+)?}}]
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[PS]][%[[W]], %[[L]], 0] [1, 1, 1] [1, 1, 1]
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         %[[TILE:.*]] = tensor.extract_slice %[[Y]][0, %[[N0]]] [1, 8] [1, 1]
// CHECK:         %[[R:.*]] = scf.forall (%[[W2:.*]], %[[T:.*]]) in (8, 1) shared_outs(%[[O:.*]] = %[[TILE]])
// CHECK:           scf.for %[[LANE:.*]] = %c0{{(_[0-9]+)?}} to %c32 step %c1
// CHECK:             tensor.extract %[[P]][%[[W2]], %[[LANE]], %[[T]]] : tensor<8x32x1xf32>
// CHECK:           arith.truncf %{{.*}} : f32 to bf16
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %[[O]][%[[T]], %[[W2]]] [1, 1] [1, 1]
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         tensor.parallel_insert_slice %[[R]] into %[[Y]][0, %[[N0]]] [1, 8] [1, 1]
// What a launch moves (the FP8 weight, its scales, x and y, each once) and
// computes (2 M N K).
// CHECK:       } {dsv3.kernel_cost = {bytes = 11030144 : i64, flops = 22020096 : i64}, mapping = [#gpu.block<x>]}
// CHECK-NOT:   dsv3.linear
// SIM-LABEL:   func.func @q_a_proj
// SIM:         bufferization.alloc_tensor() : tensor<8x32x1xf32>
// MAX1-LABEL:  func.func @q_a_proj
// MAX1-NOT:    dsv3.linear
func.func @q_a_proj(%x: tensor<1x7168xbf16>) -> tensor<1x1536xbf16> {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<12x56xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>)
      : (tensor<1x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<1x1536xbf16>
  return %y : tensor<1x1536xbf16>
}

// -----

// A bf16 weight (lm_head-like) with 6 rows: blocks of 2 rows (the largest of
// 8, 4, 2, 1 dividing N), no scale; 3 tokens, each with its own register.
// K = 544: one whole chunk of 512 columns, then the 32 columns left, which
// lanes 0 and 1 (16 l + 512 < 544) take.
// CHECK-LABEL: func.func @bf16_rows
// CHECK:       scf.forall (%{{.*}}) in (3) shared_outs
// CHECK:         bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<2x32x3xf32>
// CHECK:         scf.forall (%{{.*}}, %[[L:.*]]) in (2, 32)
// CHECK:           %[[K0:.*]] = arith.muli %[[L]], %c16
// CHECK:           %[[SUM:.*]] = scf.for {{.*}} -> (vector<3xf32>)
// CHECK:             vector.transfer_read %{{.*}} : tensor<6x544xbf16>, vector<16xbf16>
// CHECK-NOT:         tensor.extract
// CHECK-COUNT-3:     vector.reduction <add>
// CHECK:           %[[KT:.*]] = arith.addi %[[K0]], %c512
// CHECK:           %[[IN:.*]] = arith.cmpi ult, %[[KT]], %c544
// CHECK:           scf.if %[[IN]] -> (vector<3xf32>)
// CHECK:             vector.transfer_read %{{.*}}[%{{.*}}, %[[KT]]]
// CHECK:           } else {
// CHECK:             scf.yield %[[SUM]] : vector<3xf32>
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (2, 3)
// CHECK-NOT:       arith.truncf
// MAX1-LABEL:  func.func @bf16_rows
// MAX1:        dsv3.linear
func.func @bf16_rows(%x: tensor<3x544xf32>) -> tensor<3x6xf32> {
  %w = dsv3.parameter "lm_head.weight" : tensor<6x544xbf16>
  %y = dsv3.linear %x, %w : (tensor<3x544xf32>, tensor<6x544xbf16>) -> tensor<3x6xf32>
  return %y : tensor<3x6xf32>
}

// -----

// Left to the definition: activation-quantized linears, more than
// max-tokens tokens, a dynamic token count, K not a multiple of 16.
// CHECK-LABEL: func.func @not_taken
// CHECK-COUNT-4: dsv3.linear
// CHECK-NOT:   scf.forall
func.func @not_taken(%x: tensor<4x256xbf16>, %big: tensor<17x256xbf16>,
                     %dyn: tensor<?x256xbf16>, %odd: tensor<1x40xf32>,
                     %wo: tensor<8x40xf32>)
    -> (tensor<4x256xf32>, tensor<17x256xf32>, tensor<?x256xf32>, tensor<1x8xf32>) {
  %w = dsv3.parameter "w" : tensor<256x256xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<2x2xf32>
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<2x2xf32>) act_quant(fp8_1x128)
      : (tensor<4x256xbf16>, tensor<256x256xf8E4M3FN>) -> tensor<4x256xf32>
  %b = dsv3.linear %big, %w weight_scale_inv(%s : tensor<2x2xf32>)
      : (tensor<17x256xbf16>, tensor<256x256xf8E4M3FN>) -> tensor<17x256xf32>
  %c = dsv3.linear %dyn, %w weight_scale_inv(%s : tensor<2x2xf32>)
      : (tensor<?x256xbf16>, tensor<256x256xf8E4M3FN>) -> tensor<?x256xf32>
  %d = dsv3.linear %odd, %wo : (tensor<1x40xf32>, tensor<8x40xf32>) -> tensor<1x8xf32>
  return %a, %b, %c, %d : tensor<4x256xf32>, tensor<17x256xf32>, tensor<?x256xf32>, tensor<1x8xf32>
}

// -----

// The routed experts' gate_proj of a decode step (1 token, 8 of 256 experts:
// 8 rows). A block per (8 weight rows, routed row r): rows in no segment
// (before offsets[0], or at or past offsets[E])
// are 0 and read nothing; r's expert is the largest e with offsets[e] <= r,
// by 8 (= log2 256) halving steps; the lanes read that expert's rows.
// CHECK-LABEL: func.func @experts
// CHECK:       scf.forall (%[[NB:.*]], %[[R:.*]]) in (256, 8) shared_outs(%[[Y:.*]] = %{{.*}}) -> (tensor<8x2048xf32>)
// CHECK:         %[[N0:.*]] = arith.muli %[[NB]], %c8
// CHECK:         %[[TOTAL:.*]] = tensor.extract %[[OFF:.*]][%c256] : tensor<257xi64>
// CHECK:         %[[FIRST:.*]] = tensor.extract %[[OFF]][%c0{{(_[0-9]+)?}}] : tensor<257xi64>
// CHECK:         %[[R64:.*]] = arith.index_cast %[[R]] : index to i64
// CHECK:         %[[BEFORE_END:.*]] = arith.cmpi slt, %[[R64]], %[[TOTAL]] : i64
// CHECK:         %[[AFTER_START:.*]] = arith.cmpi sge, %[[R64]], %[[FIRST]] : i64
// CHECK:         %[[VALID:.*]] = arith.andi %[[BEFORE_END]], %[[AFTER_START]] : i1
// CHECK:         %[[SEARCH:.*]]:2 = scf.for %{{.*}} = %c0{{(_[0-9]+)?}} to %c8{{(_[0-9]+)?}} step %c1{{(_[0-9]+)?}} iter_args(%[[LO:.*]] = %c0{{(_[0-9]+)?}}, %[[HI:.*]] = %c256{{(_[0-9]+)?}})
// CHECK:           %[[MID:.*]] = arith.divui
// CHECK:           %[[START:.*]] = tensor.extract %[[OFF]][%[[MID]]]
// CHECK:           %[[IN:.*]] = arith.cmpi sle, %[[START]], %{{.*}} : i64
// CHECK:           arith.select %[[IN]], %[[MID]], %[[LO]]
// CHECK:           arith.select %[[IN]], %[[HI]], %[[MID]]
// CHECK:         bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<8x32x1xf32>
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (8, 32)
// CHECK:           scf.if %[[VALID]] -> (vector<1xf32>)
// CHECK:             scf.for
// CHECK:               vector.transfer_read %{{.*}}[%[[SEARCH]]#0, %{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<256x2048x7168xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:               tensor.extract %{{.*}}[%[[SEARCH]]#0, %{{.*}}, %{{.*}}] : tensor<256x16x56xf32>
// CHECK:               vector.transfer_read %{{.*}}[%[[R]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<8x7168xbf16>, vector<16xbf16>
// CHECK:           } else {
// CHECK:             scf.yield %cst{{.*}} : vector<1xf32>
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         tensor.extract_slice %[[Y]][%[[R]], %[[N0]]] [1, 8] [1, 1]
// The weights and scales of min(R, E) experts are counted (every routed row
// to its own expert), 2 R N K flops.
// CHECK:       } {dsv3.kernel_cost = {bytes = 117651464 : i64, flops = 234881024 : i64}, mapping = [#gpu.block<x>, #gpu.block<y>]}
// MAX1-LABEL:  func.func @experts
// MAX1:        dsv3.grouped_matmul
func.func @experts(%rows: tensor<8x7168xbf16>, %offsets: tensor<257xi64>) -> tensor<8x2048xf32> {
  %w = dsv3.parameter "model.layers.3.mlp.experts.gate_proj.weight" : tensor<256x2048x7168xf8E4M3FN>
  %s = dsv3.parameter "model.layers.3.mlp.experts.gate_proj.weight_scale_inv" : tensor<256x16x56xf32>
  %h = dsv3.grouped_matmul %rows, %w, %offsets weight_scale_inv(%s : tensor<256x16x56xf32>)
      : (tensor<8x7168xbf16>, tensor<256x2048x7168xf8E4M3FN>, tensor<257xi64>) -> tensor<8x2048xf32>
  return %h : tensor<8x2048xf32>
}
