// RUN: dsv3-opt %s --transform-interpreter --split-input-file --verify-diagnostics | FileCheck %s

// dsv3.latent_attention's TilingInterface, driven by upstream's transform
// dialect: tiles of (b, i, h) are the op over slices, start_pos shifted by
// the tile's first query after clamping to [-S, L] (latent-attention-tiling
// .test checks the bits on host).
// CHECK-LABEL: func.func @tile
// CHECK:       scf.forall (%[[B:.*]], %[[I:.*]], %[[H:.*]]) in (2, 2, 2)
// CHECK:         %[[I0:.*]] = affine.apply #{{.*}}(%[[I]])
// CHECK:         %[[H0:.*]] = affine.apply #{{.*}}(%[[H]])
// CHECK:         %[[Q:.*]] = tensor.extract_slice %arg0[%[[B]], %[[I0]], %[[H0]], 0] [1, 2, 4, 16]
// CHECK:         %[[C:.*]] = tensor.extract_slice %arg2[%[[B]], 0, 0] [1, 6, 16]
// CHECK:         %[[S:.*]] = tensor.extract_slice %arg4[%[[B]]] [1] [1]
// CHECK:         %[[L:.*]] = tensor.extract_slice %arg5[%[[B]]] [1] [1]
// CHECK:         %[[START:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<1xi64>)
// CHECK:           arith.maxsi %{{.*}}, %c-4
// CHECK:           arith.minsi %{{.*}}, %c6
// CHECK:           arith.addi %{{.*}}, %[[I0]]
// CHECK:         dsv3.latent_attention %[[Q]], %{{.*}}, %[[C]], %{{.*}}, %[[START]], %[[L]] scale(2.500000e-01) : tensor<1x2x4x16xf32>
// CHECK:         tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[B]], %[[I0]], %[[H0]], 0] [1, 2, 4, 16]
func.func @tile(%q: tensor<2x4x8x16xf32>, %qp: tensor<2x4x8x8xf32>, %c: tensor<2x6x16xf32>, %k: tensor<2x6x8xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) -> tensor<2x4x8x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<2x4x8x16xf32>, tensor<2x4x8x8xf32>, tensor<2x6x16xf32>, tensor<2x6x8xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["dsv3.latent_attention"]} in %root : (!transform.any_op) -> !transform.any_op
    %t, %f = transform.structured.tile_using_forall %op tile_sizes [1, 2, 4, 0] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}

// -----

// A tile of keys alone is not a tile of the result: the key dimension tiles
// only as a partial reduction (dsv3-split-kv-attention).
func.func @keys(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x6x16xf32>, %k: tensor<1x6x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x4x16xf32> {
  // expected-error @+3 {{tiles its key dimension only as a partial reduction (split-KV)}}
  // expected-error @+2 {{faild to tile operation}}
  // expected-error @+1 {{failed to generate tiling loops}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x6x16xf32>, tensor<1x6x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>
  return %o : tensor<1x1x4x16xf32>
}
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["dsv3.latent_attention"]} in %root : (!transform.any_op) -> !transform.any_op
    %t, %f = transform.structured.tile_using_for %op tile_sizes [0, 0, 0, 2] : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
