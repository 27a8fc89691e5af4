// RUN: dsv3-opt %s --dsv3-host-vectorize-latent-attention --canonicalize --split-input-file | FileCheck %s

// Decode (S = 1) over a bf16 latent cache: the scores are a forall over
// pairs of cache rows below n = clamp(kv_len, 0, L); a full pair is one
// register tile of 2 rows x 4 heads (each widened cache vector feeds the
// heads, each query vector the rows), c_kv then k_pe in the same lanes, a
// tree sum, the scale and -inf for hidden keys, a head's two scores written
// as one vector; a lone last row takes the
// other branch. Then the decomposed linalg.softmax; then P · c_kv over the
// visible keys t < min(start_pos + 1, kv_len, n), in blocks of 256 keys, each
// block for every tile of 4 heads x 16 columns (8 accumulators, read from
// and written back to the f32 result); the result is rounded once to bf16.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME:    %[[Q:[^:]*]]: tensor<1x1x4x16xf32>, %[[QP:[^:]*]]: tensor<1x1x4x8xf32>, %[[C:[^:]*]]: tensor<1x64x16xbf16>, %[[K:[^:]*]]: tensor<1x64x8xbf16>, %[[START:[^:]*]]: tensor<1xi64>, %[[LEN:[^:]*]]: tensor<1xi64>)
// CHECK:         %[[LEN0:.*]] = tensor.extract %[[LEN]]
// CHECK:         %[[N:.*]] = arith.minsi %{{.*}}, %c64 : index
// CHECK:         %[[N1:.*]] = arith.addi %[[N]], %c1
// CHECK:         %[[PAIRS:.*]] = arith.divui %[[N1]], %c2
// CHECK:         %[[SCORES:.*]] = scf.forall (%[[PAIR:.*]]) in (%[[PAIRS]])
// CHECK:           %[[T0:.*]] = arith.muli %[[PAIR]], %c2
// CHECK:           %[[LEFT:.*]] = arith.subi %[[N]], %[[T0]]
// CHECK:           %[[ROWS:.*]] = arith.minui %[[LEFT]], %c2
// CHECK:           %[[TWO:.*]] = arith.cmpi eq, %[[ROWS]], %c2
// CHECK:           scf.if %[[TWO]]
// CHECK:             %[[T1:.*]] = arith.addi %[[T0]], %c1
// CHECK:             %[[VIS0:.*]] = arith.andi
// CHECK:             %[[VIS1:.*]] = arith.andi
// CHECK:             scf.for %{{.*}} = %c0 to %c16 step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:               %[[CV0:.*]] = vector.transfer_read %[[C]][%c0, %[[T0]], %{{.*}}]
// CHECK:               %[[CW0:.*]] = arith.extf %[[CV0]] : vector<8xbf16> to vector<8xf32>
// CHECK:               %[[CV1:.*]] = vector.transfer_read %[[C]][%c0, %[[T1]], %{{.*}}]
// CHECK:               %[[CW1:.*]] = arith.extf %[[CV1]] : vector<8xbf16> to vector<8xf32>
// CHECK:               %[[QV:.*]] = vector.transfer_read %[[Q]]
// CHECK:               vector.fma %[[QV]], %[[CW0]], %{{.*}} : vector<8xf32>
// CHECK:               vector.fma %[[QV]], %[[CW1]], %{{.*}} : vector<8xf32>
// CHECK-COUNT-6:       vector.fma
// CHECK:             vector.transfer_read %[[K]][%c0, %[[T0]], %c0]
// CHECK:             vector.transfer_read %[[K]][%c0, %[[T1]], %c0]
// CHECK-COUNT-8:     vector.fma
// CHECK:             %[[SUM:.*]] = vector.reduction <add>, %{{.*}} fastmath<reassoc>
// CHECK:             %[[SCALED:.*]] = arith.mulf %[[SUM]], %cst{{.*}} : f32
// CHECK:             %[[S0:.*]] = arith.select %[[VIS0]], %[[SCALED]], %{{.*}} : f32
// CHECK:             %[[S1:.*]] = arith.select %[[VIS1]], %{{.*}}, %{{.*}} : f32
// CHECK:             %[[H0:.*]] = vector.from_elements %[[S0]], %[[S1]] : vector<2xf32>
// CHECK:             vector.transfer_write %[[H0]], %{{.*}}[%c0, %c0, %c0, %c0] {in_bounds = [true]} : vector<2xf32>, tensor<1x1x4x?xf32>
// CHECK-COUNT-3:     vector.transfer_write {{.*}} : vector<2xf32>, tensor<1x1x4x?xf32>
// CHECK:           } else {
// CHECK:             scf.for %{{.*}} = %c0 to %c16 step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %{{.*}}[0, 0, 0, %[[T0]]] [1, 1, 4, %[[ROWS]]]
// CHECK:         linalg.generic {{.*}} ins(%[[SCORES]] {{.*}} {
// CHECK:           arith.maxnumf
// CHECK:         math.exp
// CHECK:         arith.addf
// CHECK:         %[[P:.*]] = linalg.generic
// CHECK:           arith.divf
// CHECK:         %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<1x1x4x16xf32>)
// CHECK:         %[[S0:.*]] = tensor.extract %[[START]]
// CHECK:         %[[LAST:.*]] = arith.minsi %{{.*}}, %[[N]] : index
// CHECK:         %[[LAST0:.*]] = arith.maxsi %[[LAST]], %c0 : index
// CHECK:         scf.for %[[KB:.*]] = %c0 to %[[LAST0]] step %c256 iter_args(%[[ACC:.*]] = %[[Z]])
// CHECK:           %[[KB1:.*]] = arith.addi %[[KB]], %c256
// CHECK:           %[[KEND:.*]] = arith.minsi %[[KB1]], %[[LAST0]]
// CHECK-COUNT-8:   vector.transfer_read %[[ACC]]
// CHECK:           scf.for %[[KEY:.*]] = %[[KB]] to %[[KEND]] step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2:     vector.transfer_read %[[C]][%c0, %[[KEY]], %{{.*}}]
// CHECK:             tensor.extract %[[P]][%c0, %c0, %c0, %[[KEY]]]
// CHECK:             vector.broadcast
// CHECK-COUNT-2:     vector.fma
// CHECK-COUNT-8:   vector.transfer_write
// CHECK:         linalg.copy ins(%{{.*}} : tensor<1x1x4x16xf32>) outs(%{{.*}} : tensor<1x1x4x16xbf16>)
// CHECK-NOT:     dsv3.latent_attention
func.func @decode(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x64x16xbf16>, %k: tensor<1x64x8xbf16>, %start: tensor<1xi64>, %len: tensor<1xi64>) -> tensor<1x1x4x16xbf16> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x64x16xbf16>, tensor<1x64x8xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xbf16>
  return %o : tensor<1x1x4x16xbf16>
}

// -----

// Any query count, several sequences, 6 heads (a pair of rows: one tile of
// 2 rows x 6 heads; a lone row: tiles of 4 and 2 heads; 2-head tiles in the
// product): the products run per sequence and query, each sequence bounded
// by its own start_pos and kv_len.
// CHECK-LABEL: func.func @prefill(
// CHECK:         %[[S:.*]] = tensor.dim %{{.*}}, %c1 : tensor<2x?x6x8xf32>
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (2, %{{.*}})
// CHECK:           scf.if
// CHECK:             scf.for %{{.*}} = %c0 to %[[S]] step %c1
// CHECK-COUNT-12:      vector.fma
// CHECK-COUNT-12:      vector.fma
// CHECK:           } else {
// CHECK:             scf.for %{{.*}} = %c0 to %[[S]] step %c1
// CHECK-COUNT-4:       vector.fma
// CHECK-COUNT-4:       vector.fma
// CHECK-COUNT-2:       vector.fma
// CHECK-COUNT-2:       vector.fma
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (2, %[[S]])
// CHECK:           scf.for %{{.*}} step %c256
// CHECK:             scf.for %{{.*}} = %c0 to %c6 step %c2
// CHECK-COUNT-2:     vector.fma
// CHECK-NOT:     dsv3.latent_attention
func.func @prefill(%q: tensor<2x?x6x8xf32>, %qp: tensor<2x?x6x8xf32>, %c: tensor<2x16x8xf32>, %k: tensor<2x16x8xf32>, %start: tensor<2xi64>, %len: tensor<2xi64>) -> tensor<2x?x6x8xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.5)
      : tensor<2x?x6x8xf32>, tensor<2x?x6x8xf32>, tensor<2x16x8xf32>, tensor<2x16x8xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x?x6x8xf32>
  return %o : tensor<2x?x6x8xf32>
}

// -----

// A latent width that is not a multiple of 8 keeps the definition.
// CHECK-LABEL: func.func @narrow(
// CHECK:         dsv3.latent_attention
func.func @narrow(%q: tensor<1x1x2x12xf32>, %qp: tensor<1x1x2x8xf32>, %c: tensor<1x4x12xf32>, %k: tensor<1x4x8xf32>, %start: tensor<1xi64>, %len: tensor<1xi64>) -> tensor<1x1x2x12xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.5)
      : tensor<1x1x2x12xf32>, tensor<1x1x2x8xf32>, tensor<1x4x12xf32>, tensor<1x4x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x2x12xf32>
  return %o : tensor<1x1x2x12xf32>
}
