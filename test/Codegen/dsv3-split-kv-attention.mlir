// RUN: dsv3-opt %s --dsv3-split-kv-attention --split-input-file | FileCheck %s
// RUN: dsv3-opt %s --dsv3-split-kv-attention=min-split-size=0 --split-input-file | FileCheck %s --check-prefix=OFF
// RUN: dsv3-opt %s --dsv3-split-kv-attention=min-split-size=2 --split-input-file | FileCheck %s --check-prefix=ODD

// Decode over a 4096-row cache: upstream's tiling driver cuts the key
// reduction into 16 tiles of 256 (PartialReductionOuterParallel). Each
// iteration of the scf.forall is the same op over a slice of the cache, with
// start_pos and kv_len clamped and shifted by the tile's first key, returning
// its f32 output and lse into [16, B, S, H, ...] partials; then a tree of
// attention_merge over halves (8, 4, 2, 1 pairs), the last one rounding to
// the result type.
// CHECK-LABEL: func.func @decode
// CHECK-DAG:     %[[PO:.*]] = tensor.empty() : tensor<16x1x1x128x512xf32>
// CHECK-DAG:     %[[PL:.*]] = tensor.empty() : tensor<16x1x1x128xf32>
// CHECK:         %[[P:.*]]:2 = scf.forall (%[[T:.*]]) = (0) to (4096) step (256) shared_outs(%[[O:.*]] = %[[PO]], %[[L:.*]] = %[[PL]])
// CHECK:           %[[N:.*]] = affine.apply #{{.*}}()[%[[T]]]
// CHECK:           %[[C:.*]] = tensor.extract_slice %arg2[0, %[[T]], 0] [1, 256, 512] [1, 1, 1]
// CHECK:           %[[K:.*]] = tensor.extract_slice %arg3[0, %[[T]], 0] [1, 256, 64] [1, 1, 1]
// CHECK:           %[[SHIFT:.*]] = arith.subi %{{.*}}, %[[T]] : index
// CHECK:           %[[START:.*]] = linalg.generic
// CHECK:             arith.maxsi %{{.*}}, %c-1
// CHECK:             arith.minsi %{{.*}}, %c4096
// CHECK:             arith.addi %{{.*}}, %[[SHIFT]]
// CHECK:           %[[LEN:.*]] = linalg.generic
// CHECK:             arith.maxsi %{{.*}}, %c0
// CHECK:             arith.minsi %{{.*}}, %c4096
// CHECK:           %[[TO:.*]], %[[TL:.*]] = dsv3.latent_attention %{{.*}}, %{{.*}}, %[[C]], %[[K]], %[[START]], %[[LEN]] scale(0.135233805)
// CHECK-SAME:        tensor<1x256x512xbf16>, tensor<1x256x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xf32>, tensor<1x1x128xf32>
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice %[[TO]] into %[[O]][%{{.*}}, 0, 0, 0, 0] [1, 1, 1, 128, 512]
// CHECK:             tensor.parallel_insert_slice %[[TL]] into %[[L]][%{{.*}}, 0, 0, 0] [1, 1, 1, 128]
// CHECK:         dsv3.attention_merge {{.*}} -> tensor<8x1x1x128x512xf32>, tensor<8x1x1x128xf32>
// CHECK:         dsv3.attention_merge {{.*}} -> tensor<4x1x1x128x512xf32>, tensor<4x1x1x128xf32>
// CHECK:         dsv3.attention_merge {{.*}} -> tensor<2x1x1x128x512xf32>, tensor<2x1x1x128xf32>
// CHECK:         %[[OUT:.*]], %{{.*}} = dsv3.attention_merge {{.*}} -> tensor<1x1x1x128x512xbf16>, tensor<1x1x1x128xf32>
// CHECK:         %[[R:.*]] = tensor.collapse_shape %[[OUT]] {{\[}}[0, 1], [2], [3], [4]] : tensor<1x1x1x128x512xbf16> into tensor<1x1x128x512xbf16>
// CHECK:         return %[[R]]
// OFF-LABEL:   func.func @decode
// OFF-NOT:     scf.forall
// OFF:         dsv3.latent_attention {{.*}} tensor<1x4096x512xbf16>
func.func @decode(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x4096x512xbf16>, %k: tensor<1x4096x64xbf16>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x128x512xbf16> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xbf16>
  return %o : tensor<1x1x128x512xbf16>
}

// -----

// Not split: prefill (S > 16), a dynamic query count, and a cache too short
// for two tiles of 256.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT:   scf.forall
// CHECK:       dsv3.latent_attention {{.*}} tensor<1x4096x16xf32>
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT:   scf.forall
// CHECK-LABEL: func.func @short
// CHECK-NOT:   scf.forall
// CHECK:       dsv3.latent_attention {{.*}} tensor<1x300x16xf32>
func.func @prefill(%q: tensor<1x32x4x16xf32>, %qp: tensor<1x32x4x8xf32>, %c: tensor<1x4096x16xf32>, %k: tensor<1x4096x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x32x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x32x4x16xf32>, tensor<1x32x4x8xf32>, tensor<1x4096x16xf32>, tensor<1x4096x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x32x4x16xf32>
  return %o : tensor<1x32x4x16xf32>
}
func.func @dynamic(%q: tensor<1x?x4x16xf32>, %qp: tensor<1x?x4x8xf32>, %c: tensor<1x4096x16xf32>, %k: tensor<1x4096x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x?x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x?x4x16xf32>, tensor<1x?x4x8xf32>, tensor<1x4096x16xf32>, tensor<1x4096x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x?x4x16xf32>
  return %o : tensor<1x?x4x16xf32>
}
func.func @short(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x300x16xf32>, %k: tensor<1x300x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x300x16xf32>, tensor<1x300x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>
  return %o : tensor<1x1x4x16xf32>
}

// -----

// Three tiles of 2 keys (i32 positions, an lse result of its own): the odd
// third part is merged into the first, then one pair remains. Both results
// are replaced by the merge's.
// ODD-LABEL: func.func @odd
// ODD:       scf.forall (%{{.*}}) = (0) to (6) step (2) {{.*}} -> (tensor<3x2x1x4x16xf32>, tensor<3x2x1x4xf32>)
// ODD:         arith.index_cast %{{.*}} : i32 to index
// ODD:         dsv3.latent_attention {{.*}} : tensor<2x1x4x16xf32>, tensor<2x1x4x8xf32>, tensor<2x2x16xf32>, tensor<2x2x8xf32>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xf32>, tensor<2x1x4xf32>
// ODD:       %[[A:.*]] = tensor.extract_slice %[[P:.*]]#0[0, 0, 0, 0, 0] [1, 2, 1, 4, 16]
// ODD:       %[[B:.*]] = tensor.extract_slice %[[P]]#0[2, 0, 0, 0, 0] [1, 2, 1, 4, 16]
// ODD:       %[[M:.*]], %[[ML:.*]] = dsv3.attention_merge %[[A]], %{{.*}}, %[[B]], %{{.*}} : {{.*}} -> tensor<1x2x1x4x16xf32>, tensor<1x2x1x4xf32>
// ODD:       tensor.insert_slice %[[M]] into %{{.*}}[0, 0, 0, 0, 0] [1, 2, 1, 4, 16] {{.*}} into tensor<2x2x1x4x16xf32>
// ODD:       %[[OUT:.*]], %[[LSE:.*]] = dsv3.attention_merge {{.*}} -> tensor<1x2x1x4x16xf32>, tensor<1x2x1x4xf32>
// ODD:       %[[R0:.*]] = tensor.collapse_shape %[[OUT]]
// ODD:       %[[R1:.*]] = tensor.collapse_shape %[[LSE]] {{\[}}[0, 1], [2], [3]] : tensor<1x2x1x4xf32> into tensor<2x1x4xf32>
// ODD:       return %[[R0]], %[[R1]]
func.func @odd(%q: tensor<2x1x4x16xf32>, %qp: tensor<2x1x4x8xf32>, %c: tensor<2x6x16xf32>, %k: tensor<2x6x8xf32>, %s: tensor<2xi32>, %l: tensor<2xi32>) -> (tensor<2x1x4x16xf32>, tensor<2x1x4xf32>) {
  %o, %lse = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<2x1x4x16xf32>, tensor<2x1x4x8xf32>, tensor<2x6x16xf32>, tensor<2x6x8xf32>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x16xf32>, tensor<2x1x4xf32>
  return %o, %lse : tensor<2x1x4x16xf32>, tensor<2x1x4xf32>
}
