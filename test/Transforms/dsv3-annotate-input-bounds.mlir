// RUN: dsv3-opt %s --dsv3-annotate-input-bounds --split-input-file --verify-diagnostics | FileCheck %s

// One new row into a 64-row cache: start_pos in [0, 63]; the attention's
// kv_len in [0, 64]. The same start_pos feeds both ops and keeps the
// narrower range of the write.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME:    %{{.*}}: tensor<2xi32> {dsv3.bounds = {max = 63 : i64, min = 0 : i64, why = "kv_cache_update writes 1 row(s) per sequence from start_pos into a cache of max_seq_len 64"}},
// CHECK-SAME:    %{{.*}}: tensor<2xi32> {dsv3.bounds = {max = 64 : i64, min = 0 : i64, why = "latent_attention reads kv_len rows of a cache of max_seq_len 64"}})
func.func @decode(%c: tensor<2x64x512xbf16>, %k: tensor<2x64x64xbf16>, %nc: tensor<2x1x512xf32>, %nk: tensor<2x1x64xf32>, %q: tensor<2x1x4x512xbf16>, %qp: tensor<2x1x4x64xbf16>, %s: tensor<2xi32>, %l: tensor<2xi32>) -> tensor<2x1x4x512xf32> {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s
      : tensor<2x64x512xbf16>, tensor<2x64x64xbf16>, tensor<2x1x512xf32>, tensor<2x1x64xf32>, tensor<2xi32> -> tensor<2x64x512xbf16>, tensor<2x64x64xbf16>
  %o = dsv3.latent_attention %q, %qp, %c2, %k2, %s, %l scale(0.1352338)
      : tensor<2x1x4x512xbf16>, tensor<2x1x4x64xbf16>, tensor<2x64x512xbf16>, tensor<2x64x64xbf16>, tensor<2xi32>, tensor<2xi32> -> tensor<2x1x4x512xf32>
  return %o : tensor<2x1x4x512xf32>
}

// -----

// Expert ids index E = 256 experts; -1 is DeepEP's "no expert".
// CHECK-LABEL: func.func @moe(
// CHECK-SAME:    %{{.*}}: tensor<4x8xi32> {dsv3.bounds = {max = 255 : i64, min = -1 : i64, why = "expert_dispatch indexes 256 routed experts (-1 means no expert); expert_combine indexes 256 routed experts (-1 means no expert)"}}
func.func @moe(%x: tensor<4x64xbf16>, %ids: tensor<4x8xi32>, %w: tensor<4x8xf32>) -> tensor<4x64xf32> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4x64xbf16>, tensor<4x8xi32>) -> tensor<32x64xbf16>, tensor<257xi64>, tensor<32xi64>
  %y = dsv3.expert_combine %rows, %ids, %w, %off : (tensor<32x64xbf16>, tensor<4x8xi32>, tensor<4x8xf32>, tensor<257xi64>) -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// CHECK-LABEL: func.func @bias_update(
// CHECK-SAME:    {dsv3.bounds = {max = 3 : i64, min = -1 : i64, why = "expert_bias_update indexes 4 routed experts (-1 means no expert)"}}
func.func @bias_update(%ids: tensor<2x2xi32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<2x2xi32>, tensor<4xf32>) -> tensor<4xf32>
  return %nb : tensor<4xf32>
}

// -----

// Ids computed inside the graph are not entry inputs: nothing to record.
// CHECK-LABEL: func.func @computed(
// CHECK-NOT:   dsv3.bounds
func.func @computed(%ids: tensor<2x2xi32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %one = arith.constant dense<1> : tensor<2x2xi32>
  %i = arith.addi %ids, %one : tensor<2x2xi32>
  %nb = dsv3.expert_bias_update %i, %b gamma(1.0e-03) : (tensor<2x2xi32>, tensor<4xf32>) -> tensor<4xf32>
  return %nb : tensor<4xf32>
}

