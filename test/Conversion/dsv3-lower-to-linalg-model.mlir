// RUN: dsv3-opt %s --dsv3-lower-to-linalg | FileCheck %s

// dsv3.embedding: one parallel generic over the result gathers table rows;
// the id is clamped into [0, V - 1] so it never addresses outside the table,
// and the bf16 row is widened to the result type.
// CHECK-LABEL: func.func @embedding
// CHECK-SAME:    (%[[T:.*]]: tensor<256x160xbf16>, %[[IDS:.*]]: tensor<1x4xi64>)
// CHECK:       linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[IDS]] : tensor<1x4xi64>) outs(%{{.*}} : tensor<1x4x160xf32>)
// CHECK:         %[[I:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK:         %[[LO:.*]] = arith.maxsi %[[I]], %c0
// CHECK:         %[[ROW:.*]] = arith.minsi %[[LO]], %c255
// CHECK:         %[[COL:.*]] = linalg.index 2
// CHECK:         %[[V:.*]] = tensor.extract %[[T]][%[[ROW]], %[[COL]]] : tensor<256x160xbf16>
// CHECK:         arith.extf %[[V]] : bf16 to f32
func.func @embedding(%t: tensor<256x160xbf16>, %ids: tensor<1x4xi64>) -> tensor<1x4x160xf32> {
  %h = dsv3.embedding %t[%ids] : (tensor<256x160xbf16>, tensor<1x4xi64>) -> tensor<1x4x160xf32>
  return %h : tensor<1x4x160xf32>
}
