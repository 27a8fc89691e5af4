// RUN: dsv3-opt %s --dsv3-lower-to-linalg=bound-by-kv-len --canonicalize | FileCheck %s
// A dynamic token count: every token-shaped tensor is sized from tensor.dim
// of an operand, and derived counts are computed at run time.

// The linear's result rows are the input's.
// CHECK-LABEL: func.func @linear
// CHECK:         %[[T:.*]] = tensor.dim %arg0, %c0 : tensor<?x64xf32>
// CHECK:         tensor.empty(%[[T]]) : tensor<?x8xf32>

// Dispatched rows: T·K + E·(alignment - 1) = T·2 + 4·3.
// CHECK-LABEL: func.func @dispatch
// CHECK-DAG:     %[[C12:.*]] = arith.constant 12 : index
// CHECK-DAG:     %[[C2:.*]] = arith.constant 2 : index
// CHECK:         %[[T:.*]] = tensor.dim %arg1, %c0 : tensor<?x2xi32>
// CHECK:         %[[TK:.*]] = arith.muli %[[T]], %[[C2]] : index
// CHECK:         %[[R:.*]] = arith.addi %[[TK]], %[[C12]] : index
// CHECK:         tensor.empty(%[[R]]) : tensor<?x16xf32>

// The cache update writes the S new rows when start + S <= L = 8.
// CHECK-LABEL: func.func @update
// CHECK:         %[[S:.*]] = tensor.dim %arg2, %c1 : tensor<1x?x16xf32>
// CHECK:         %[[END:.*]] = arith.addi %{{.*}}, %[[S]] : index
// CHECK:         arith.cmpi sle, %[[END]], %c8 : index
// CHECK:         tensor.insert_slice %{{.*}} into %arg0[0, %{{.*}}, 0] [1, %[[S]], 16] [1, 1, 1] : tensor<1x?x16xf32> into tensor<1x8x16xf32>
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<8x64xf32>) -> tensor<?x8xf32> {
  %y = dsv3.linear %x, %w : (tensor<?x64xf32>, tensor<8x64xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
func.func @dispatch(%x: tensor<?x16xf32>, %ids: tensor<?x2xi32>) -> tensor<?x16xf32> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<?x16xf32>, tensor<?x2xi32>) -> tensor<?x16xf32>, tensor<5xi64>, tensor<?xi64>
  return %rows : tensor<?x16xf32>
}
func.func @update(%c: tensor<1x8x16xf32>, %k: tensor<1x8x4xf32>, %nc: tensor<1x?x16xf32>, %nk: tensor<1x?x4xf32>, %s: tensor<1xi64>) -> tensor<1x8x16xf32> {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<1x8x16xf32>, tensor<1x8x4xf32>, tensor<1x?x16xf32>, tensor<1x?x4xf32>, tensor<1xi64> -> tensor<1x8x16xf32>, tensor<1x8x4xf32>
  return %c2 : tensor<1x8x16xf32>
}
