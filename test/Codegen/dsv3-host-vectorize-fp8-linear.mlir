// RUN: dsv3-opt %s --split-input-file --dsv3-host-vectorize-fp8-linear | FileCheck %s
// RUN: not dsv3-opt %s --dsv3-host-vectorize-fp8-linear=vector-width=48 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: dsv3-opt %s --split-input-file --dsv3-host-vectorize-fp8-linear=vector-width=16 | FileCheck %s --check-prefix=W16

// Activations widened to f32 once; the f32 result starts as zeros (the
// running sums); row groups of 32 split over the threads (scf.forall, each
// writes its 32 columns). In a group, register tiles of 2 rows x 4 tokens:
// per K step each row's FP8 weight vector is widened once (sign-extend,
// shift, mask, f16 -> f32: the code's value times 2^-8) and each token's
// activation vector is read once, feeding 8 accumulators. The lanes of all
// 8 are summed at the end of each 128-wide block by one shuffle tree
// (row-major: row 0's tokens, then row 1's), scaled by
// weight_scale_inv[n / 128, kb] * 2^8 and added to the running sums, carried
// as one vector across blocks; they are read from and written back to the
// group's slice one token's row vector at a time. These are a prefill's
// tiles: the strategy's decode_tokens = 0 makes every M a prefill, so K goes
// in chunks, and chunks of 128 blocks (here one chunk of the 2 blocks; 64
// KiB of f32 a row) are too long for an f32 panel of two rows
// (@prefill_panel), so the weights are widened in registers.
// CHECK-LABEL: func.func @decode
// CHECK-DAG:   %[[MASK:.*]] = arith.constant dense<-16512> : vector<8xi16>
// CHECK-DAG:   %[[SEVEN:.*]] = arith.constant dense<7> : vector<8xi16>
// CHECK-DAG:   %[[TWO8:.*]] = arith.constant 2.560000e+02 : f32
// CHECK:       %[[X:.*]] = linalg.copy ins(%{{.*}} : tensor<4x256xbf16>) outs(%{{.*}} : tensor<4x256xf32>)
// CHECK:       %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<4x576xf32>)
// CHECK:       scf.forall (%[[G:.*]]) in (18) shared_outs(%[[Y:.*]] = %[[Z]]) -> (tensor<4x576xf32>)
// CHECK:         %[[N0:.*]] = arith.muli %[[G]], %c32
// CHECK:         %[[PART:.*]] = tensor.extract_slice %[[Y]][0, %[[N0]]] [4, 32] [1, 1]
// CHECK-NOT:     memref.alloca
// CHECK:         scf.for %[[KB0:.*]] = %c0 to %c2 step %c128 iter_args(%{{.*}} = %[[PART]])
// CHECK:           %[[KB1:.*]] = arith.minui %{{.*}}, %c2
// CHECK:         scf.for %[[I:.*]] = %c0 to %c32 step %c2 iter_args(%[[P0:.*]] = %{{.*}})
// CHECK:           %[[N:.*]] = arith.addi %[[N0]], %[[I]]
// CHECK:           %[[N1:.*]] = arith.addi %[[N]], %c1
// CHECK:           scf.for %[[M0:.*]] = %c0 to %c4 step %c4 iter_args(%[[P:.*]] = %[[P0]])
// CHECK:           %[[NB:.*]] = arith.divui %[[N]], %c128
// CHECK:           %[[R0:.*]] = vector.transfer_read %[[P]][%[[M0]], %[[I]]], %{{.*}} {in_bounds = [true]} : tensor<4x32xf32>, vector<2xf32>
// CHECK-COUNT-3:   vector.transfer_read %[[P]][%{{.*}}, %[[I]]], %{{.*}} {in_bounds = [true]} : tensor<4x32xf32>, vector<2xf32>
// CHECK:           vector.extract %[[R0]][0] : f32 from vector<2xf32>
// CHECK:           %[[INIT:.*]] = vector.from_elements {{.*}} : vector<8xf32>
// CHECK:           scf.for %[[KB:.*]] = %[[KB0]] to %[[KB1]] step %c1 iter_args(%[[RUNNING:.*]] = %[[INIT]]) -> (vector<8xf32>)
// CHECK:             scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:               %[[W:.*]] = vector.transfer_read %{{.*}}[%[[N]], %[[K]]], %{{.*}} {in_bounds = [true]} : tensor<576x256xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:               %[[B:.*]] = arith.bitcast %[[W]] : vector<8xf8E4M3FN> to vector<8xi8>
// CHECK:               %[[E:.*]] = arith.extsi %[[B]] : vector<8xi8> to vector<8xi16>
// CHECK:               %[[S:.*]] = arith.shli %[[E]], %[[SEVEN]]
// CHECK:               %[[A:.*]] = arith.andi %[[S]], %[[MASK]]
// CHECK:               %[[H:.*]] = arith.bitcast %[[A]] : vector<8xi16> to vector<8xf16>
// CHECK:               %[[WF:.*]] = arith.extf %[[H]] : vector<8xf16> to vector<8xf32>
// CHECK:               vector.transfer_read %{{.*}}[%[[N1]], %[[K]]]{{.*}} : tensor<576x256xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:               %[[WF1:.*]] = arith.extf %{{.*}} : vector<8xf16> to vector<8xf32>
// CHECK:               %[[XV:.*]] = vector.transfer_read %[[X]][%{{.*}}, %[[K]]]{{.*}} : tensor<4x256xf32>, vector<8xf32>
// CHECK:               vector.fma %[[XV]], %[[WF]], %{{.*}} : vector<8xf32>
// CHECK:               vector.fma %[[XV]], %[[WF1]], %{{.*}} : vector<8xf32>
// CHECK-COUNT-3:       vector.fma %{{.*}}, %[[WF]], %{{.*}}
// CHECK:             %[[SC:.*]] = tensor.extract %{{.*}}[%[[NB]], %[[KB]]] : tensor<5x2xf32>
// CHECK:             %[[SC8:.*]] = arith.mulf %[[SC]], %[[TWO8]] : f32
// CHECK:             %[[SCV:.*]] = vector.from_elements %[[SC8]], %[[SC8]], %[[SC8]], %[[SC8]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK-NOT:         vector.reduction
// CHECK:             vector.shuffle
// CHECK:             %[[SCALED:.*]] = arith.mulf %{{.*}}, %[[SCV]] : vector<8xf32>
// CHECK:             %[[NEXT:.*]] = arith.addf %[[RUNNING]], %[[SCALED]] : vector<8xf32>
// CHECK:             scf.yield %[[NEXT]] : vector<8xf32>
// CHECK:           %[[V0:.*]] = vector.from_elements %{{.*}}, %{{.*}} : vector<2xf32>
// CHECK:           vector.transfer_write %[[V0]], %[[P]][%[[M0]], %[[I]]] {in_bounds = [true]} : vector<2xf32>, tensor<4x32xf32>
// CHECK-COUNT-3:   vector.transfer_write %{{.*}}, %{{.*}}[%{{.*}}, %[[I]]] {in_bounds = [true]} : vector<2xf32>, tensor<4x32xf32>
// CHECK-NOT:       tensor.insert
// CHECK:         scf.forall.in_parallel
// CHECK-NEXT:      tensor.parallel_insert_slice %{{.*}} into %[[Y]][0, %[[N0]]] [4, 32] [1, 1]
// CHECK-NOT:   dsv3.linear
//
// At vector-width=16 (AVX-512: dsv3-compile --march=x86-64-v4) the same
// tiles step K by 16 with 16-lane vectors, and a block's lane sums first add
// each accumulator's two 256-bit halves (lanes i + i+8), then take the
// 8-lane tree above.
// W16-LABEL: func.func @decode
// W16:         scf.for %{{.*}} step %c16 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// W16:           vector.transfer_read {{.*}} : tensor<576x256xf8E4M3FN>, vector<16xf8E4M3FN>
// W16:           arith.extf %{{.*}} : vector<16xf16> to vector<16xf32>
// W16-COUNT-8:   vector.fma {{.*}} : vector<16xf32>
// W16:         %[[LO:.*]] = vector.extract_strided_slice %[[ACC:.*]] {offsets = [0], sizes = [8], strides = [1]} : vector<16xf32> to vector<8xf32>
// W16-NEXT:    %[[HI:.*]] = vector.extract_strided_slice %[[ACC]] {offsets = [8], sizes = [8], strides = [1]} : vector<16xf32> to vector<8xf32>
// W16-NEXT:    arith.addf %[[LO]], %[[HI]] : vector<8xf32>
// W16:         vector.shuffle
// W16-NOT:     vector.reduction
// W16:         return
func.func @decode(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> tensor<4x576xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", decode_tokens = 0 : i64, k_chunk_blocks = 128 : i64}} : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  return %y : tensor<4x576xf32>
}

// -----

// Prefill chunks: each chunk of the row group's FP8 weights (here all 32
// rows x 4 blocks, 64 KiB) is widened once to f32 into a per-thread panel,
// row by row, 16 codes per step. Then the token tiles run outside the row
// tiles: a 6-token tile's activations stay in L1 while the panel's row pairs
// pass, and the register tiles load their weight vectors from the panel's
// rows i, i + 1: no widening in the tiles' K loops.
// CHECK-LABEL: func.func @prefill_panel(
// CHECK:       scf.forall (%{{.*}}) in (1)
// CHECK-NEXT:    %[[PANEL:.*]] = memref.alloca() {alignment = 64 : i64} : memref<32x512xf32>
// CHECK:         scf.for %[[KB0:.*]] = %c0 to %c8 step %c4
// CHECK:           %[[K0:.*]] = arith.muli %[[KB0]], %c128
// CHECK:           %[[KE:.*]] = arith.minui %{{.*}}, %c1024
// CHECK:           scf.for %[[R:.*]] = %c0 to %c32 step %c1 {
// CHECK:             scf.for %[[J:.*]] = %[[K0]] to %[[KE]] step %c16
// CHECK:               arith.extsi %{{.*}} : vector<16xi8> to vector<16xi16>
// CHECK:               %[[AT:.*]] = arith.subi %[[J]], %[[K0]]
// CHECK:               vector.store %{{.*}}, %[[PANEL]][%[[R]], %[[AT]]] : memref<32x512xf32>, vector<16xf32>
// CHECK:           scf.for %{{.*}} = %c0 to %c18 step %c6
// CHECK:             scf.for %[[I:.*]] = %c0 to %c32 step %c2
// CHECK:               scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %c8
// CHECK-NOT:             arith.extsi
// CHECK:                 %[[PAT:.*]] = arith.subi %[[K]], %[[K0]]
// CHECK:                 vector.load %[[PANEL]][%[[I]], %[[PAT]]] : memref<32x512xf32>, vector<8xf32>
// CHECK:                 %[[I1:.*]] = arith.addi %[[I]], %c1
// CHECK:                 vector.load %[[PANEL]][%[[I1]], %{{.*}}] : memref<32x512xf32>, vector<8xf32>
// CHECK-COUNT-12:        vector.fma
func.func @prefill_panel(%x: tensor<18x1024xbf16>, %w: tensor<32x1024xf8E4M3FN>, %s: tensor<1x8xf32>) -> tensor<18x32xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>) : (tensor<18x1024xbf16>, tensor<32x1024xf8E4M3FN>) -> tensor<18x32xf32>
  return %y : tensor<18x32xf32>
}

// -----

// A row group whose chunk does not fit one panel of at most 64 KiB: 40 rows
// x 8 blocks (4 KiB a row) go in panels of 16 rows, the last of 8; each
// panel is widened, then its token tiles x row tiles run.
// CHECK-LABEL: func.func @prefill_panels
// CHECK:       %[[PANEL:.*]] = memref.alloca() {alignment = 64 : i64} : memref<16x1024xf32>
// CHECK:       scf.for %{{.*}} = %c0 to %c8 step %c8
// CHECK:         scf.for %[[P0:.*]] = %c0 to %c40 step %c16
// CHECK:           %[[LEFT:.*]] = arith.subi %c40, %[[P0]]
// CHECK:           %[[COUNT:.*]] = arith.minui %[[LEFT]], %c16
// CHECK:           scf.for %{{.*}} = %c0 to %[[COUNT]] step %c1 {
// CHECK:             vector.store %{{.*}}, %[[PANEL]]
// CHECK:           scf.for %{{.*}} = %c0 to %c18 step %c6
// CHECK:             scf.for %{{.*}} = %c0 to %{{.*}} step %c2
// CHECK:               vector.load %[[PANEL]]
func.func @prefill_panels(%x: tensor<18x1024xbf16>, %w: tensor<40x1024xf8E4M3FN>, %s: tensor<1x8xf32>) -> tensor<18x40xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", rows_per_task = 40 : i64, k_chunk_blocks = 8 : i64}} : (tensor<18x1024xbf16>, tensor<40x1024xf8E4M3FN>) -> tensor<18x40xf32>
  return %y : tensor<18x40xf32>
}

// -----

// A static M of 19 (more than decode_tokens, so a prefill): the 5 rows (N <
// 32: one group of 5) widened into a panel of 5 rows, then token tiles of 6
// up to 18 over two row pairs (2 x 6 tiles, 12 accumulators) and one row,
// then one token over the same row tiles (no token tile of 4 or 2); a bf16
// result is the f32 sums narrowed once, after the loops.
// CHECK-LABEL: func.func @nineteen
// CHECK:       scf.forall (%{{.*}}) in (1)
// CHECK-NEXT:    memref.alloca() {alignment = 64 : i64} : memref<5x512xf32>
// CHECK:         scf.for %{{.*}} = %c0 to %c5 step %c1
// CHECK:         scf.for %{{.*}} = %c0 to %c18 step %c6
// CHECK:           scf.for %{{.*}} = %c0 to %c4 step %c2
// CHECK-COUNT-12:    vector.fma
// CHECK:           scf.for %{{.*}} = %c4 to %c5 step %c1
// CHECK-COUNT-6:     vector.fma
// CHECK-NOT:         vector.fma
// CHECK:         scf.for %{{.*}} = %c18 to %c19 step %c1
// CHECK:           scf.for %{{.*}} = %c0 to %c4 step %c2
// CHECK-COUNT-2:     vector.fma
// CHECK:           scf.for %{{.*}} = %c4 to %c5 step %c1
// CHECK-COUNT-1:     vector.fma
// CHECK-NOT:     vector.fma
// CHECK:       linalg.copy ins(%{{.*}} : tensor<19x5xf32>) outs(%{{.*}} : tensor<19x5xbf16>)
func.func @nineteen(%x: tensor<19x128xf32>, %w: tensor<5x128xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<19x5xbf16> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<19x128xf32>, tensor<5x128xf8E4M3FN>) -> tensor<19x5xbf16>
  return %y : tensor<19x5xbf16>
}

// -----

// A static M of at most decode_tokens (5 here: an MTP verify step, a short
// prompt) takes the staged tiles of a dynamic count: each block of 8 rows
// widened once into the buffer, then the tokens in pairs (constant bounds:
// [0, 4) step 2) and the last one alone, all reading the buffer; no widening
// in registers.
// CHECK-LABEL: func.func @few_tokens
// CHECK:       scf.forall (%{{.*}}) in (1)
// CHECK-NEXT:    %[[BUF:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8x128xi16>
// CHECK:         scf.for %{{.*}} = %c0 to %c32 step %c8
// CHECK:           scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK-COUNT-8:       vector.store %{{.*}}, %[[BUF]]
// CHECK:             scf.for %{{.*}} = %c0 to %c4 step %c2
// CHECK-NOT:           arith.extsi %{{.*}} : vector<8xi8>
// CHECK:               vector.load %[[BUF]][%c0
// CHECK:             scf.for %{{.*}} = %c4 to %c5 step %c1
// CHECK-NOT:           arith.extsi %{{.*}} : vector<8xi8>
// CHECK-COUNT-8:       vector.load %[[BUF]]
// CHECK-NOT:     arith.extsi %{{.*}} : vector<8xi8>
// CHECK:       return
func.func @few_tokens(%x: tensor<5x256xbf16>, %w: tensor<32x256xf8E4M3FN>, %s: tensor<1x2xf32>) -> tensor<5x32xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<5x256xbf16>, tensor<32x256xf8E4M3FN>) -> tensor<5x32xf32>
  return %y : tensor<5x32xf32>
}

// -----

// One static token (decode): tiles of 8 rows x 1 token (8 independent FMA
// chains). N = 40 makes groups of 32 and 8 rows, so the group size is
// dynamic and the 4-, 2- and 1-row tiles follow for the rest. Each tile
// reads and writes its running sums as one vector. A one-token tile widens
// each block in two steps: the f16 bits of its rows' 128 codes, 16 at a
// time, into the iteration's 8 x 128 buffer; then, in the K loop, f16 -> f32
// from the buffer (same products, same additions as widening in registers).
// Before staging a block, the tile prefetches the same block of the next
// tile's rows (row + 8, clamped to the last row 39), a 64-byte line at a time:
// 2 lines x 8 rows.
// CHECK-LABEL: func.func @one_token(
// CHECK-SAME:    %{{.*}}: tensor<1x1024xbf16>, %[[W:.*]]: tensor<40x1024xf8E4M3FN>
// CHECK:       scf.forall (%{{.*}}) in (2)
// CHECK-NEXT:    %[[BUF:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8x128xi16>
// CHECK-NEXT:    %[[VIEW:.*]] = bufferization.to_buffer %[[W]] read_only : tensor<40x1024xf8E4M3FN> to memref<40x1024xf8E4M3FN, strided<[?, ?], offset: ?>>
// CHECK:         scf.for %[[I:.*]] = %c0 to %{{.*}} step %c8
// CHECK:           %[[ROW0:.*]] = arith.addi %{{.*}}, %[[I]]
// CHECK:           scf.for %[[M:.*]] = %c0 to %c1 step %c1
// CHECK:             vector.transfer_read %{{.*}}[%[[M]], %[[I]]], %{{.*}} {in_bounds = [true]} : tensor<1x?xf32>, vector<8xf32>
// CHECK:             scf.for %[[KB:.*]] = %c0 to %c8 step %c1 iter_args({{.*}}) -> (vector<8xf32>)
// CHECK:               %[[K0:.*]] = arith.muli %[[KB]], %c128
// CHECK:               %[[LINE:.*]] = arith.minui %[[K0]], %c1023
// CHECK:               %[[AHEAD:.*]] = arith.addi %[[ROW0]], %c8
// CHECK:               %[[NEXT:.*]] = arith.minui %[[AHEAD]], %c39
// CHECK:               memref.prefetch %[[VIEW]][%[[NEXT]], %[[LINE]]], read, locality<3>, data
// CHECK-COUNT-15:      memref.prefetch %[[VIEW]]
// CHECK-NOT:           memref.prefetch
// CHECK:               scf.for %[[J:.*]] = %[[K0]] to %{{.*}} step %c16 {
// CHECK:                 %[[AT:.*]] = arith.subi %[[J]], %[[K0]]
// CHECK:                 vector.transfer_read %{{.*}}[%{{.*}}, %[[J]]]{{.*}} : tensor<40x1024xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:                 arith.extsi %{{.*}} : vector<16xi8> to vector<16xi16>
// CHECK:                 vector.store %{{.*}}, %[[BUF]][%c0, %[[AT]]] : memref<8x128xi16>, vector<16xi16>
// CHECK-COUNT-7:         vector.store %{{.*}}, %[[BUF]][%{{.*}}, %[[AT]]] : memref<8x128xi16>, vector<16xi16>
// CHECK:               %[[ACC:.*]]:8 = scf.for %[[K:.*]] = %[[K0]] to %{{.*}} step %c8
// CHECK-NOT:             tensor<40x1024xf8E4M3FN>
// CHECK:                 %[[KAT:.*]] = arith.subi %[[K]], %[[K0]]
// CHECK:                 %[[BITS:.*]] = vector.load %[[BUF]][%c0, %[[KAT]]] : memref<8x128xi16>, vector<8xi16>
// CHECK:                 arith.bitcast %[[BITS]] : vector<8xi16> to vector<8xf16>
// CHECK-COUNT-8:         vector.fma
// CHECK-NOT:             vector.fma
// CHECK:               %[[SCALES:.*]] = vector.from_elements %{{.*}} : vector<8xf32>
// CHECK-NOT:           vector.reduction
// CHECK:               %[[LO01:.*]] = vector.shuffle %[[ACC]]#0, %[[ACC]]#1 [0, 1, 2, 3, 8, 9, 10, 11]
// CHECK:               %[[HI01:.*]] = vector.shuffle %[[ACC]]#0, %[[ACC]]#1 [4, 5, 6, 7, 12, 13, 14, 15]
// CHECK:               %[[H01:.*]] = arith.addf %[[LO01]], %[[HI01]] : vector<8xf32>
// CHECK:               %[[H23:.*]] = arith.addf
// CHECK:               %[[H45:.*]] = arith.addf
// CHECK:               %[[H67:.*]] = arith.addf
// CHECK:               %[[E0:.*]] = vector.shuffle %[[H01]], %[[H23]] [0, 1, 8, 9, 4, 5, 12, 13]
// CHECK:               %[[O0:.*]] = vector.shuffle %[[H01]], %[[H23]] [2, 3, 10, 11, 6, 7, 14, 15]
// CHECK:               %[[Q0:.*]] = arith.addf %[[E0]], %[[O0]] : vector<8xf32>
// CHECK:               %[[Q1:.*]] = arith.addf
// CHECK:               %[[S0:.*]] = vector.shuffle %[[Q0]], %[[Q1]] [0, 4, 2, 6, 8, 12, 10, 14]
// CHECK:               %[[S1:.*]] = vector.shuffle %[[Q0]], %[[Q1]] [1, 5, 3, 7, 9, 13, 11, 15]
// CHECK:               %[[SUMS:.*]] = arith.addf %[[S0]], %[[S1]] : vector<8xf32>
// CHECK:               %[[SCALED:.*]] = arith.mulf %[[SUMS]], %[[SCALES]] : vector<8xf32>
// CHECK:               %[[RUNNING:.*]] = arith.addf %{{.*}}, %[[SCALED]] : vector<8xf32>
// CHECK:               scf.yield %[[RUNNING]] : vector<8xf32>
// CHECK:             vector.transfer_write %{{.*}}, %{{.*}}[%[[M]], %[[I]]] {in_bounds = [true]} : vector<8xf32>, tensor<1x?xf32>
// CHECK:         scf.for %{{.*}} step %c4
// CHECK:           vector.transfer_read {{.*}} : tensor<1x?xf32>, vector<4xf32>
// CHECK-COUNT-4:   vector.fma
// CHECK-NOT:       vector.fma
// CHECK:         scf.for %{{.*}} step %c2
// CHECK:         scf.for %{{.*}} step %c1
func.func @one_token(%x: tensor<1x1024xbf16>, %w: tensor<40x1024xf8E4M3FN>, %s: tensor<1x8xf32>) -> tensor<1x40xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>) : (tensor<1x1024xbf16>, tensor<40x1024xf8E4M3FN>) -> tensor<1x40xf32>
  return %y : tensor<1x40xf32>
}

// -----

// A dynamic M: token blocks of 96; in a block, all of K in one pass when
// the block has at most 16 tokens (decode-sized), else K in chunks of 4
// quantization blocks (two branches, so the K loops keep constant bounds).
// Decode-sized: tiles of 8 rows (then 4, 2, 1) over however many tokens
// there are; each quantization block of the rows is widened once into the
// thread's staging buffer. Then the tokens go in pairs, over 4 rows at a
// time: each widened weight vector feeds both tokens' FMAs (8 chains); an
// odd last token takes the 8 rows alone (8 chains). Each token adds the
// block into its running sums in the result, the rows' lane sums reduced
// together (the shuffle tree of @one_token).
// Prefill-sized: each chunk of the group's rows (32, or 8 in the last
// group) widened into the panel, then token tiles of 6 up to 6 * (count /
// 6), then one tile of what is left (5, 4, 3, 2 or 1 tokens), each over the
// group's 2-row tiles. f32 activations are read as they are. N = 40: groups
// of 32, the last one of 8 columns.
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT:   linalg.copy
// CHECK:       %[[M:.*]] = tensor.dim %{{.*}}, %c0
// CHECK:       scf.forall (%[[G:.*]]) in (2)
// CHECK:         %[[STAGE:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8x128xi16>
// CHECK:         %[[PANEL:.*]] = memref.alloca() {alignment = 64 : i64} : memref<32x512xf32>
// CHECK:         %[[N0:.*]] = arith.muli %[[G]], %c32
// CHECK:         %[[LEFT:.*]] = arith.subi %c40, %[[N0]]
// CHECK:         %[[NS:.*]] = arith.minui %[[LEFT]], %c32
// CHECK:         scf.for %[[MB:.*]] = %c0 to %[[M]] step %c96
// CHECK:           %[[MB1:.*]] = arith.addi %[[MB]], %c96
// CHECK:           %[[MS:.*]] = arith.minui %[[MB1]], %[[M]]
// CHECK:           %[[CNT:.*]] = arith.subi %[[MS]], %[[MB]]
// CHECK:           %[[SMALL:.*]] = arith.cmpi ule, %[[CNT]], %c16
// CHECK:           scf.if %[[SMALL]]
// CHECK:             scf.for %{{.*}} = %c0 to %{{.*}} step %c8
// CHECK:               scf.for %{{.*}} = %c0 to %c8 step %c1
// CHECK:                 scf.for %{{.*}} step %c16
// CHECK-COUNT-8:           vector.store %{{.*}}, %[[STAGE]]
// CHECK:                 %[[PAIRS:.*]] = scf.for %[[T:.*]] = %[[MB]] to %[[PEND:.*]] step %c2
// CHECK:                   %[[T1:.*]] = arith.addi %[[T]], %c1
// CHECK:                   scf.for %{{.*}} step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:                     %[[XA:.*]] = vector.transfer_read %{{.*}}[%[[T]], %{{.*}}]{{.*}} : tensor<?x1024xf32>, vector<8xf32>
// CHECK:                     %[[XB:.*]] = vector.transfer_read %{{.*}}[%[[T1]], %{{.*}}]{{.*}} : tensor<?x1024xf32>, vector<8xf32>
// CHECK:                     vector.load %[[STAGE]][%c0
// CHECK:                     %[[W0:.*]] = arith.extf
// CHECK:                     vector.fma %[[XA]], %[[W0]]
// CHECK:                     vector.fma %[[XB]], %[[W0]]
// CHECK-COUNT-3:             vector.load %[[STAGE]]
// CHECK-NOT:                 vector.load
// CHECK:                   vector.transfer_read {{.*}}[%[[T]], %{{.*}}]{{.*}} : tensor<?x?xf32>, vector<4xf32>
// CHECK-NOT:               vector.reduction
// CHECK:                   vector.transfer_write {{.*}}[%[[T]], %{{.*}}] {{.*}} : vector<4xf32>, tensor<?x?xf32>
// CHECK:                   vector.transfer_write {{.*}}[%[[T1]], %{{.*}}] {{.*}} : vector<4xf32>, tensor<?x?xf32>
// CHECK:                   vector.load %[[STAGE]][%c4
// CHECK:                   vector.transfer_write {{.*}}[%[[T]], %{{.*}}] {{.*}} : vector<4xf32>, tensor<?x?xf32>
// CHECK:                   vector.transfer_write {{.*}}[%[[T1]], %{{.*}}] {{.*}} : vector<4xf32>, tensor<?x?xf32>
// CHECK:                 scf.for %[[TL:.*]] = %[[PEND]] to %[[MS]] step %c1 iter_args(%{{.*}} = %[[PAIRS]])
// CHECK:                   scf.for %{{.*}} step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:                     vector.transfer_read %{{.*}}[%[[TL]], %{{.*}}]{{.*}} : tensor<?x1024xf32>, vector<8xf32>
// CHECK-COUNT-8:             vector.load %[[STAGE]]
// CHECK:                   vector.transfer_read {{.*}}[%[[TL]], %{{.*}}]{{.*}} : tensor<?x?xf32>, vector<8xf32>
// CHECK:                   vector.transfer_write {{.*}}[%[[TL]], %{{.*}}] {{.*}} : vector<8xf32>, tensor<?x?xf32>
// CHECK:           } else {
// CHECK:           scf.for %[[KB0:.*]] = %c0 to %c8 step %c4
// CHECK:             %[[KB1:.*]] = arith.minui
// CHECK:             scf.for %[[P0:.*]] = %c0 to %{{.*}} step %c32
// CHECK:               %[[PN:.*]] = arith.minui %{{.*}}, %c32
// CHECK:               scf.for %{{.*}} = %c0 to %[[PN]] step %c1 {
// CHECK:                 vector.store %{{.*}}, %[[PANEL]]
// CHECK:               %[[CNT2:.*]] = arith.subi %[[MS]], %[[MB]]
// CHECK:               %[[D6:.*]] = arith.divui %[[CNT2]], %c6
// CHECK:               %[[T6:.*]] = arith.muli %[[D6]], %c6
// CHECK:               %[[E6:.*]] = arith.addi %[[MB]], %[[T6]]
// CHECK:               scf.for %{{.*}} = %[[MB]] to %[[E6]] step %c6
// CHECK:                 scf.for %{{.*}} = %c0 to %{{.*}} step %c2
// CHECK:                   scf.for %{{.*}} = %[[KB0]] to %[[KB1]] step %c1
// CHECK:               %[[L5:.*]] = arith.subi %[[MS]], %[[E6]]
// CHECK:               %[[D5:.*]] = arith.divui %[[L5]], %c5
// CHECK:               %[[T5:.*]] = arith.muli %[[D5]], %c5
// CHECK:               %[[E5:.*]] = arith.addi %[[E6]], %[[T5]]
// CHECK:               scf.for %{{.*}} = %[[E6]] to %[[E5]] step %c5
// CHECK:               scf.for %{{.*}} = %[[E5]] to %[[E4:.*]] step %c4
// CHECK:               scf.for %{{.*}} = %[[E4]] to %[[E3:.*]] step %c3
// CHECK:               scf.for %{{.*}} = %[[E3]] to %[[E2:.*]] step %c2
// CHECK:               scf.for %{{.*}} = %[[E2]] to %[[MS]] step %c1
func.func @dynamic(%x: tensor<?x1024xf32>, %w: tensor<40x1024xf8E4M3FN>, %s: tensor<1x8xf32>) -> tensor<?x40xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>) : (tensor<?x1024xf32>, tensor<40x1024xf8E4M3FN>) -> tensor<?x40xf32>
  return %y : tensor<?x40xf32>
}

// -----

// Activation-quantized linears keep the linalg definition; a bf16 weight
// gets the same kernel with the weight widened by extf and 128-wide block
// sums added unscaled.
// CHECK-LABEL: func.func @untouched
// CHECK:       dsv3.linear {{.*}} act_quant(fp8_1x128)
// CHECK:       scf.forall (%{{.*}}) in (1)
// CHECK:         scf.for %{{.*}} = %c0 to %c2 step %c1
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
// [offsets[e], offsets[e + 1]) (clamped to [0, R]) run in the linear's
// blocks and tiles against its weight and block scale, written as one
// rectangle. A decode-sized count (at most 16 tokens) takes the staged
// 8-row tiles: each 128-block of 8 weight rows widened once, whatever the
// expert's token count.
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
// CHECK:         %[[STAGE:.*]] = memref.alloca() {alignment = 64 : i64} : memref<8x128xi16>
// CHECK:         %[[PANEL:.*]] = memref.alloca() {alignment = 64 : i64} : memref<16x512xf32>
// CHECK:         scf.for %{{.*}} step %c96 iter_args(%{{.*}} = %[[PART]])
// CHECK:           scf.if
// CHECK:             scf.for %{{.*}} = %c0 to %c16 step %c8
// CHECK:               scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK:                 scf.for %{{.*}} step %c16
// CHECK:                   vector.transfer_read %{{.*}}[%[[E]], %{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<8x64x256xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:                   vector.store %{{.*}}, %[[STAGE]]
// CHECK:                 tensor.extract %{{.*}}[%[[E]], %{{.*}}, %{{.*}}] : tensor<8x1x2xf32>
// CHECK:                 scf.for %{{.*}} step %c1
// CHECK:                   vector.load %[[STAGE]]
// CHECK:           } else {
// CHECK:           scf.for %{{.*}} = %c0 to %c16 step %c1
// CHECK:             %[[N:.*]] = arith.addi %[[N0]], %{{.*}}
// CHECK:             scf.for %{{.*}} step %c16
// CHECK:               vector.transfer_read %{{.*}}[%[[E]], %[[N]], %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<8x64x256xf8E4M3FN>, vector<16xf8E4M3FN>
// CHECK:               vector.store %{{.*}}, %[[PANEL]][%{{.*}}, %{{.*}}] : memref<16x512xf32>, vector<16xf32>
// CHECK:           scf.for %{{.*}} step %c6
// CHECK:             scf.for %{{.*}} = %c0 to %c16 step %c2
// CHECK:               scf.for %{{.*}} step %c8
// CHECK:                 vector.load %[[PANEL]][%{{.*}}, %{{.*}}] : memref<16x512xf32>, vector<8xf32>
// CHECK:               tensor.extract %{{.*}}[%[[E]], %{{.*}}, %{{.*}}] : tensor<8x1x2xf32>
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

// -----

// A strategy on the op (dsv3-host-select-strategy's, or written by hand)
// sets the blocking: 64 rows per scf.forall iteration instead of 32, and
// every token count chunked (decode_tokens = 0: K in chunks of 1 block); a
// "definition" strategy keeps the op.
// CHECK-LABEL: func.func @strategy
// CHECK:       scf.forall (%{{.*}}) in (9) shared_outs
// CHECK:         scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args(%{{.*}}) -> (tensor<4x64xf32>)
// CHECK:           scf.for %{{.*}} = %c0 to %c64 step %c2
// CHECK:       dsv3.linear {{.*}} {dsv3.host_strategy = {kernel = "definition"}}
func.func @strategy(%x: tensor<4x256xbf16>, %w: tensor<576x256xf8E4M3FN>, %s: tensor<5x2xf32>) -> (tensor<4x576xf32>, tensor<4x576xf32>) {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", rows_per_task = 64 : i64, decode_tokens = 0 : i64, k_chunk_blocks = 1 : i64}} : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  %z = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x2xf32>) {dsv3.host_strategy = {kernel = "definition"}} : (tensor<4x256xbf16>, tensor<576x256xf8E4M3FN>) -> tensor<4x576xf32>
  return %y, %z : tensor<4x576xf32>, tensor<4x576xf32>
}

// -----

// The router's logits: a gate with a bf16 weight (weight_tiles, from the
// table) becomes a linear of the gate weight, run by this kernel (its row
// groups of 32 over the 64 experts), and dsv3.moe_gate on the f32 logits.
// An f16 gate weight has no strategy and keeps the definition.
// CHECK-LABEL: func.func @router
// CHECK:       %[[U:.*]] = scf.forall (%{{.*}}) in (2) shared_outs(%{{.*}}) -> (tensor<4x64xf32>)
// CHECK:       dsv3.moe_gate %[[U]] bias(%{{.*}} : tensor<64xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8) topk_group(4) norm_topk_prob routed_scaling_factor(2.500000e+00) : (tensor<4x64xf32>) -> tensor<4x8xf32>, tensor<4x8xi32>
// CHECK:       dsv3.moe_gate %{{.*}}, %{{.*}} scoring_func(softmax) {{.*}} : (tensor<4x256xbf16>, tensor<64x256xf16>)
func.func @router(%x: tensor<4x256xbf16>, %w: tensor<64x256xbf16>, %b: tensor<64xf32>, %wh: tensor<64x256xf16>) -> (tensor<4x8xf32>, tensor<4x8xi32>, tensor<4x8xf32>, tensor<4x8xi32>) {
  %wt, %ids = dsv3.moe_gate %x, %w bias(%b : tensor<64xf32>) scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8) topk_group(4) norm_topk_prob routed_scaling_factor(2.5) : (tensor<4x256xbf16>, tensor<64x256xbf16>) -> tensor<4x8xf32>, tensor<4x8xi32>
  %wt2, %ids2 = dsv3.moe_gate %x, %wh scoring_func(softmax) topk_method(greedy) top_k(8) : (tensor<4x256xbf16>, tensor<64x256xf16>) -> tensor<4x8xf32>, tensor<4x8xi32>
  return %wt, %ids, %wt2, %ids2 : tensor<4x8xf32>, tensor<4x8xi32>, tensor<4x8xf32>, tensor<4x8xi32>
}

// -----

// One token with a bf16 weight (a decode step's lm_head): 8-row tiles that
// widen in registers, and each block first prefetches the next tile's rows
// (row + 8, clamped to the last row 15): 128 bf16 are 256 bytes, 4 lines of
// 32 elements per row.
// CHECK-LABEL: func.func @one_token_bf16(
// CHECK-SAME:    %{{.*}}: tensor<1x256xbf16>, %[[W:.*]]: tensor<16x256xbf16>
// CHECK:       %[[VIEW:.*]] = bufferization.to_buffer %[[W]] read_only : tensor<16x256xbf16> to memref<16x256xbf16, strided<[?, ?], offset: ?>>
// CHECK:       scf.for %[[KB:.*]] = %c0 to %c2 step %c1
// CHECK:         %[[K0:.*]] = arith.muli %[[KB]], %c128
// CHECK:         %[[L0:.*]] = arith.minui %[[K0]], %c255
// CHECK:         %[[NEXT:.*]] = arith.minui %{{.*}}, %c15
// CHECK:         memref.prefetch %[[VIEW]][%[[NEXT]], %[[L0]]], read, locality<3>, data
// CHECK-COUNT-7: memref.prefetch %[[VIEW]][%{{.*}}, %[[L0]]]
// CHECK:         %[[A1:.*]] = arith.addi %[[K0]], %c32
// CHECK:         %[[L1:.*]] = arith.minui %[[A1]], %c255
// CHECK-COUNT-8: memref.prefetch %[[VIEW]][%{{.*}}, %[[L1]]]
// CHECK-COUNT-16: memref.prefetch %[[VIEW]]
// CHECK-NOT:     memref.prefetch
// CHECK:         scf.for %{{.*}} step %c8
// CHECK:           vector.transfer_read {{.*}} : tensor<16x256xbf16>, vector<8xbf16>
func.func @one_token_bf16(%x: tensor<1x256xbf16>, %w: tensor<16x256xbf16>) -> tensor<1x16xf32> {
  %y = dsv3.linear %x, %w : (tensor<1x256xbf16>, tensor<16x256xbf16>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

// K = 136 is a multiple of 8 but not of 16: at vector-width=16 this linear
// keeps 8 lanes.
// W16-LABEL: func.func @k_not_16
// W16-NOT:     vector<16xf32>
// W16:         scf.for %{{.*}} step %c8 iter_args({{.*}}) -> (vector<8xf32>,
// W16-NOT:     vector<16xf32>
// W16:         return
func.func @k_not_16(%x: tensor<3x136xbf16>, %w: tensor<8x136xf8E4M3FN>, %s: tensor<1x2xf32>) -> tensor<3x8xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", decode_tokens = 0 : i64}} : (tensor<3x136xbf16>, tensor<8x136xf8E4M3FN>) -> tensor<3x8xf32>
  return %y : tensor<3x8xf32>
}

// -----

// One token over 2 rows: each element's block sum alone (host::reduceLanes)
// at vector-width=16: the halves added first (lanes i + i+8), then an 8-lane
// reduction, the tree host::sumLanesByRows follows in @decode.
// W16-LABEL: func.func @two_rows
// W16:         %[[LO:.*]] = vector.extract_strided_slice %[[ACC:.*]] {offsets = [0], sizes = [8], strides = [1]} : vector<16xf32> to vector<8xf32>
// W16-NEXT:    %[[HI:.*]] = vector.extract_strided_slice %[[ACC]] {offsets = [8], sizes = [8], strides = [1]} : vector<16xf32> to vector<8xf32>
// W16-NEXT:    %[[H:.*]] = arith.addf %[[LO]], %[[HI]] : vector<8xf32>
// W16-NEXT:    vector.reduction <add>, %[[H]] fastmath<reassoc> : vector<8xf32> into f32
// W16:         return
func.func @two_rows(%x: tensor<1x256xbf16>, %w: tensor<2x256xf8E4M3FN>, %s: tensor<1x2xf32>) -> tensor<1x2xf32> {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<1x256xbf16>, tensor<2x256xf8E4M3FN>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
