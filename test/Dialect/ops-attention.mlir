// RUN: dsv3-opt %s | dsv3-opt | FileCheck %s
// Round trip of the attention ops' custom assembly, with and without defaults.

// CHECK-LABEL: func.func @rope
// CHECK: dsv3.rope %{{.*}} at %{{.*}} factor(4.000000e+01) original_max_position_embeddings(4096) beta_fast(3.200000e+01) beta_slow(1.000000e+00) mscale(1.000000e+00) mscale_all_dim(1.000000e+00) : (tensor<2x4x128x64xbf16>, tensor<2x4xi64>) -> tensor<2x4x128x64xbf16>
// CHECK: dsv3.rope %{{.*}} at %{{.*}} layout(half) theta(5.000000e+05) : (tensor<4x64xf32>, tensor<4xi32>) -> tensor<4x64xf32>
// CHECK: dsv3.rope %{{.*}} at %{{.*}} : (tensor<4x64xf32>, tensor<4xi32>) -> tensor<4x64xf32>
func.func @rope(%q: tensor<2x4x128x64xbf16>, %p: tensor<2x4xi64>, %k: tensor<4x64xf32>, %p1: tensor<4xi32>) {
  %0 = dsv3.rope %q at %p theta(10000.0) factor(40.0) original_max_position_embeddings(4096) beta_fast(32.0) beta_slow(1.0) mscale(1.0) mscale_all_dim(1.0) : (tensor<2x4x128x64xbf16>, tensor<2x4xi64>) -> tensor<2x4x128x64xbf16>
  %1 = dsv3.rope %k at %p1 layout(half) theta(500000.0) : (tensor<4x64xf32>, tensor<4xi32>) -> tensor<4x64xf32>
  %2 = dsv3.rope %k at %p1 layout(interleaved) : (tensor<4x64xf32>, tensor<4xi32>) -> tensor<4x64xf32>
  return
}

// CHECK-LABEL: func.func @latent_attention
// CHECK: dsv3.latent_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} scale(0.135233805) : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xf32>
func.func @latent_attention(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x4096x512xbf16>, %k: tensor<1x4096x64xbf16>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x128x512xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xf32>
  return %o : tensor<1x1x128x512xf32>
}

// The optional lse result [B, S, H] (what split-KV merges by).
// CHECK-LABEL: func.func @latent_attention_lse
// CHECK: %{{.*}}, %{{.*}} = dsv3.latent_attention {{.*}} -> tensor<1x1x128x512xf32>, tensor<1x1x128xf32>
func.func @latent_attention_lse(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x256x512xbf16>, %k: tensor<1x256x64xbf16>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> (tensor<1x1x128x512xf32>, tensor<1x1x128xf32>) {
  %o, %lse = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x256x512xbf16>, tensor<1x256x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xf32>, tensor<1x1x128xf32>
  return %o, %lse : tensor<1x1x128x512xf32>, tensor<1x1x128xf32>
}

// CHECK-LABEL: func.func @kv_cache_update
// CHECK: dsv3.kv_cache_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x64x512xbf16>, tensor<2x64x64xbf16>, tensor<2x1x512xf32>, tensor<2x1x64xf32>, tensor<2xi32> -> tensor<2x64x512xbf16>, tensor<2x64x64xbf16>
func.func @kv_cache_update(%c: tensor<2x64x512xbf16>, %k: tensor<2x64x64xbf16>, %nc: tensor<2x1x512xf32>, %nk: tensor<2x1x64xf32>, %s: tensor<2xi32>) {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s
      : tensor<2x64x512xbf16>, tensor<2x64x64xbf16>, tensor<2x1x512xf32>, tensor<2x1x64xf32>, tensor<2xi32> -> tensor<2x64x512xbf16>, tensor<2x64x64xbf16>
  return
}

// CHECK-LABEL: func.func @attention_merge
// CHECK: dsv3.attention_merge %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<1x128x512xf32>, tensor<1x128xf32>, tensor<1x128x512xf32>, tensor<1x128xf32> -> tensor<1x128x512xbf16>, tensor<1x128xf32>
func.func @attention_merge(%o1: tensor<1x128x512xf32>, %l1: tensor<1x128xf32>, %o2: tensor<1x128x512xf32>, %l2: tensor<1x128xf32>) -> (tensor<1x128x512xbf16>, tensor<1x128xf32>) {
  %o, %l = dsv3.attention_merge %o1, %l1, %o2, %l2 : tensor<1x128x512xf32>, tensor<1x128xf32>, tensor<1x128x512xf32>, tensor<1x128xf32> -> tensor<1x128x512xbf16>, tensor<1x128xf32>
  return %o, %l : tensor<1x128x512xbf16>, tensor<1x128xf32>
}
