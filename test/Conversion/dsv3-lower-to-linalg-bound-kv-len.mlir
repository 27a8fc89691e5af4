// RUN: dsv3-opt %s --dsv3-lower-to-linalg=bound-by-kv-len | FileCheck %s

// Attention reads only the rows below max(kv_len) (clamped to L = 5): the
// caches are sliced to a dynamic extent and the score tensors have it.
// CHECK-LABEL: func.func @latent_attention
// CHECK-SAME:    %[[C:[a-z0-9]+]]: tensor<2x5x16xbf16>, %[[K:[a-z0-9]+]]: tensor<2x5x8xbf16>, %{{.*}}: tensor<2xi64>, %[[KL:[a-z0-9]+]]: tensor<2xi64>
// CHECK-DAG:   %[[L0:.*]] = tensor.extract %[[KL]][%c0]
// CHECK-DAG:   %[[L1:.*]] = tensor.extract %[[KL]][%c1]
// CHECK:       %[[M:.*]] = arith.maxsi
// CHECK:       %[[N:.*]] = arith.minsi %[[M]], %c5
// CHECK:       %[[CS:.*]] = tensor.extract_slice %[[C]][0, 0, 0] [2, %[[N]], 16] [1, 1, 1] : tensor<2x5x16xbf16> to tensor<2x?x16xbf16>
// CHECK:       %[[KS:.*]] = tensor.extract_slice %[[K]][0, 0, 0] [2, %[[N]], 8] [1, 1, 1] : tensor<2x5x8xbf16> to tensor<2x?x8xbf16>
// CHECK:       tensor.empty(%[[N]]) : tensor<2x2x2x?xf32>
// CHECK:       linalg.generic {{.*}} ins(%{{.*}}, %[[CS]] : tensor<2x2x2x16xbf16>, tensor<2x?x16xbf16>)
// CHECK:       linalg.generic {{.*}} ins(%{{.*}}, %[[KS]] : tensor<2x2x2x8xbf16>, tensor<2x?x8xbf16>)
func.func @latent_attention(%qn: tensor<2x2x2x16xbf16>, %qp: tensor<2x2x2x8xbf16>, %c: tensor<2x5x16xbf16>, %k: tensor<2x5x8xbf16>, %sp: tensor<2xi64>, %kl: tensor<2xi64>) -> tensor<2x2x2x16xbf16> {
  %o = dsv3.latent_attention %qn, %qp, %c, %k, %sp, %kl scale(0.1352338) : tensor<2x2x2x16xbf16>, tensor<2x2x2x8xbf16>, tensor<2x5x16xbf16>, tensor<2x5x8xbf16>, tensor<2xi64>, tensor<2xi64> -> tensor<2x2x2x16xbf16>
  return %o : tensor<2x2x2x16xbf16>
}

// The cache update inserts the 2 new rows (rounded to the cache type) at
// start_pos when 0 <= start_pos and start_pos + S <= L = 5 (S may be a
// dynamic token count), and leaves the cache as it is
// otherwise: no generic over all L rows.
// CHECK-LABEL: func.func @kv_cache_update
// CHECK-SAME:    (%[[C:[a-z0-9]+]]: tensor<1x5x16xbf16>, %{{.*}}: tensor<1x5x8xbf16>, %[[NC:[a-z0-9]+]]: tensor<1x2x16xf32>, %{{.*}}: tensor<1x2x8xf32>, %[[SP:[a-z0-9]+]]: tensor<1xi64>)
// CHECK:       %[[R:.*]] = linalg.generic {{.*}} ins(%[[NC]] : tensor<1x2x16xf32>) outs(%{{.*}} : tensor<1x2x16xbf16>)
// CHECK:       arith.truncf
// CHECK:       %[[S:.*]] = tensor.extract %[[SP]][%c0]
// CHECK:       %[[I:.*]] = arith.index_cast %[[S]]
// CHECK:       %[[GE:.*]] = arith.cmpi sge, %[[I]], %c0
// CHECK:       %[[END:.*]] = arith.addi %[[I]], %c2
// CHECK:       %[[LE:.*]] = arith.cmpi sle, %[[END]], %c5
// CHECK:       %[[OK:.*]] = arith.andi %[[GE]], %[[LE]]
// CHECK:       scf.if %[[OK]] -> (tensor<1x5x16xbf16>) {
// CHECK:         %[[ROW:.*]] = tensor.extract_slice %[[R]][0, 0, 0] [1, 2, 16] [1, 1, 1]
// CHECK:         %[[U:.*]] = tensor.insert_slice %[[ROW]] into %[[C]][0, %[[I]], 0] [1, 2, 16] [1, 1, 1]
// CHECK:         scf.yield %[[U]]
// CHECK:       } else {
// CHECK:         scf.yield %[[C]]
// CHECK-NOT:   linalg.generic {{.*}} outs(%[[C]]
func.func @kv_cache_update(%c: tensor<1x5x16xbf16>, %k: tensor<1x5x8xbf16>, %nc: tensor<1x2x16xf32>, %nk: tensor<1x2x8xf32>, %sp: tensor<1xi64>) -> (tensor<1x5x16xbf16>, tensor<1x5x8xbf16>) {
  %a, %b = dsv3.kv_cache_update %c, %k, %nc, %nk, %sp : tensor<1x5x16xbf16>, tensor<1x5x8xbf16>, tensor<1x2x16xf32>, tensor<1x2x8xf32>, tensor<1xi64> -> tensor<1x5x16xbf16>, tensor<1x5x8xbf16>
  return %a, %b : tensor<1x5x16xbf16>, tensor<1x5x8xbf16>
}
