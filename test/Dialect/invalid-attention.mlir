// RUN: dsv3-opt %s -split-input-file -verify-diagnostics
// One case per verifier error of the attention ops.

func.func @rope_dynamic(%x: tensor<4x?xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but input [4, ?] has dimension 1 dynamic}}
  %y = dsv3.rope %x at %p  : (tensor<4x?xf32>, tensor<4xi64>) -> tensor<4x?xf32>
  return
}

// -----

func.func @rope_positions_rank(%x: tensor<1x2x4x64xf32>, %p: tensor<1x2x4xi64>) {
  // expected-error @+1 {{positions must be [T] or [B, T], got [1, 2, 4]}}
  %y = dsv3.rope %x at %p  : (tensor<1x2x4x64xf32>, tensor<1x2x4xi64>) -> tensor<1x2x4x64xf32>
  return
}

// -----

func.func @rope_shape(%x: tensor<4x2x64xf32>, %p: tensor<2x4xi64>) {
  // expected-error @+1 {{input must be positions.shape ++ [H?, D] = [2, 4] ++ [H?, D], got [4, 2, 64]}}
  %y = dsv3.rope %x at %p  : (tensor<4x2x64xf32>, tensor<2x4xi64>) -> tensor<4x2x64xf32>
  return
}

// -----

func.func @rope_odd(%x: tensor<4x63xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{rotary dimension must be even and positive, got 63}}
  %y = dsv3.rope %x at %p  : (tensor<4x63xf32>, tensor<4xi64>) -> tensor<4x63xf32>
  return
}

// -----

func.func @rope_result(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{result shape [4, 32] differs from the input shape [4, 64]}}
  %y = dsv3.rope %x at %p  : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x32xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{theta must be greater than 1, got 1}}
  %y = dsv3.rope %x at %p theta(1.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}

// -----

func.func @rope_yarn_keys(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{YaRN keys given without factor}}
  %y = dsv3.rope %x at %p beta_fast(32.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}

// -----

func.func @rope_factor(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{factor must be positive, got -4}}
  %y = dsv3.rope %x at %p factor(-4.0) original_max_position_embeddings(4096) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}

// -----

func.func @rope_no_orig(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{factor requires original_max_position_embeddings}}
  %y = dsv3.rope %x at %p factor(40.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}

// -----

func.func @rope_orig(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{original_max_position_embeddings must be positive, got -1}}
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(-1) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}

// -----

func.func @rope_beta(%x: tensor<4x64xf32>, %p: tensor<4xi64>) {
  // expected-error @+1 {{beta_fast and beta_slow must be positive}}
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(4096) beta_slow(0.0) : (tensor<4x64xf32>, tensor<4xi64>) -> tensor<4x64xf32>
  return
}

// -----

func.func @attention_dynamic(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x?x16xf32>, %k: tensor<1x?x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{requires static shapes}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x?x16xf32>, tensor<1x?x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>
  return
}

// -----

func.func @attention_rank(%q: tensor<2x4x16xf32>, %qp: tensor<2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{q_nope and q_pe must be [B, S, H, C] and [B, S, H, R]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<2x4x16xf32>, tensor<2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<2x4x16xf32>
  return
}

// -----

func.func @attention_q_pe(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x2x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{q_pe must be [1, 2, 4] ++ [R], got [1, 2, 2, 8]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x2x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>
  return
}

// -----

func.func @attention_c_kv(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x32xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{c_kv must be [1, L, 16], got [1, 8, 32]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x32xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>
  return
}

// -----

func.func @attention_lse(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{lse must be [1, 2, 4], got [1, 2, 4, 16]}}
  %o, %lse = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>
  return
}

// -----

func.func @attention_k_pe(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x7x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{k_pe must be [1, 8, 8], got [1, 7, 8]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x7x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>
  return
}

// -----

func.func @attention_start(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<2xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{start_pos and kv_len must be [1]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<2xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>
  return
}

// -----

func.func @attention_result(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{result shape must be [1, 2, 4, 16], got [1, 2, 4, 8]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.5) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x8xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<1x2x4x16xf32>, %qp: tensor<1x2x4x8xf32>, %c: tensor<1x8x16xf32>, %k: tensor<1x8x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{scale must be positive}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.0) : tensor<1x2x4x16xf32>, tensor<1x2x4x8xf32>, tensor<1x8x16xf32>, tensor<1x8x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x4x16xf32>
  return
}

// -----

func.func @update_dynamic(%c: tensor<2x?x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x3x16xf32>, %nk: tensor<2x3x4xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but c_kv [2, ?, 16] has dimension 1 dynamic}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x?x16xf32>, tensor<2x8x4xf32>, tensor<2x3x16xf32>, tensor<2x3x4xf32>, tensor<2xi64> -> tensor<2x?x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @update_rank(%c: tensor<16x16xf32>, %k: tensor<16x4xf32>, %nc: tensor<2x1x16xf32>, %nk: tensor<2x1x4xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{caches must be [B, L, C] and [B, L, R]}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<16x16xf32>, tensor<16x4xf32>, tensor<2x1x16xf32>, tensor<2x1x4xf32>, tensor<2xi64> -> tensor<16x16xf32>, tensor<16x4xf32>
  return
}

// -----

func.func @update_k_pe(%c: tensor<2x8x16xf32>, %k: tensor<2x4x4xf32>, %nc: tensor<2x1x16xf32>, %nk: tensor<2x1x4xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{k_pe cache must be [2, 8] ++ [R], got [2, 4, 4]}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x8x16xf32>, tensor<2x4x4xf32>, tensor<2x1x16xf32>, tensor<2x1x4xf32>, tensor<2xi64> -> tensor<2x8x16xf32>, tensor<2x4x4xf32>
  return
}

// -----

func.func @update_new_c(%c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x1x8xf32>, %nk: tensor<2x1x4xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{new_c_kv must be [2, S, 16], got [2, 1, 8]}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2x1x8xf32>, tensor<2x1x4xf32>, tensor<2xi64> -> tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @update_new_k(%c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x1x16xf32>, %nk: tensor<2x1x8xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{new_k_pe must be [2, 1, 4], got [2, 1, 8]}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2x1x16xf32>, tensor<2x1x8xf32>, tensor<2xi64> -> tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @update_too_many(%c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x9x16xf32>, %nk: tensor<2x9x4xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{writes 9 rows into a cache of 8}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2x9x16xf32>, tensor<2x9x4xf32>, tensor<2xi64> -> tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @update_start(%c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x1x16xf32>, %nk: tensor<2x1x4xf32>, %s: tensor<1xi64>) {
  // expected-error @+1 {{start_pos must be [2]}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2x1x16xf32>, tensor<2x1x4xf32>, tensor<1xi64> -> tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @update_results(%c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %nc: tensor<2x1x16xf32>, %nk: tensor<2x1x4xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{results must have the cache types}}
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %s : tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2x1x16xf32>, tensor<2x1x4xf32>, tensor<2xi64> -> tensor<2x8x8xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @merge_dynamic(%o: tensor<3x?xf32>, %l: tensor<3xf32>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but o [3, ?] has dimension 1 dynamic}}
  %r, %s = dsv3.attention_merge %o, %l, %o, %l : tensor<3x?xf32>, tensor<3xf32>, tensor<3x?xf32>, tensor<3xf32> -> tensor<3x?xf32>, tensor<3xf32>
  return
}

// -----

func.func @merge_rank0(%o: tensor<f32>, %l: tensor<f32>) {
  // expected-error @+1 {{o1 must have rank >= 1 (the last dimension is D)}}
  %r, %s = dsv3.attention_merge %o, %l, %o, %l : tensor<f32>, tensor<f32>, tensor<f32>, tensor<f32> -> tensor<f32>, tensor<f32>
  return
}

// -----

func.func @merge_o2(%o: tensor<2x4xf32>, %o2: tensor<2x8xf32>, %l: tensor<2xf32>) {
  // expected-error @+1 {{o2 must be [2, 4] like o1, got [2, 8]}}
  %r, %s = dsv3.attention_merge %o, %l, %o2, %l : tensor<2x4xf32>, tensor<2xf32>, tensor<2x8xf32>, tensor<2xf32> -> tensor<2x4xf32>, tensor<2xf32>
  return
}

// -----

func.func @merge_out(%o: tensor<2x4xf32>, %l: tensor<2xf32>) {
  // expected-error @+1 {{out must be [2, 4] like o1, got [4, 2]}}
  %r, %s = dsv3.attention_merge %o, %l, %o, %l : tensor<2x4xf32>, tensor<2xf32>, tensor<2x4xf32>, tensor<2xf32> -> tensor<4x2xf32>, tensor<2xf32>
  return
}

// -----

func.func @merge_lse(%o: tensor<2x4xf32>, %l: tensor<2xf32>, %l2: tensor<2x4xf32>) {
  // expected-error @+1 {{lse2 must be [2] (o without its last dimension), got [2, 4]}}
  %r, %s = dsv3.attention_merge %o, %l, %o, %l2 : tensor<2x4xf32>, tensor<2xf32>, tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x4xf32>, tensor<2xf32>
  return
}
