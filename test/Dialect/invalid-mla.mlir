// RUN: dsv3-opt %s -split-input-file -verify-diagnostics
// One case per verifier error of dsv3.mla.

func.func @dynamic(%x: tensor<?x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{requires static shapes}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<?x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @heads(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{num_heads, kv_lora_rank and head dims must be positive and q_lora_rank non-negative}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 0 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @odd_rope(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x3xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{qk_rope_head_dim must be even, got 3}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 3 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x3xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x3xf32>
  return
}

// -----

func.func @hidden_rank(%x: tensor<6x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{hidden must be [B, S, hidden], got [6, 32]}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<6x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @hidden_type(%x: tensor<2x3x32xf16>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{hidden must be bf16 or f32}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf16>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf16>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @positions(%x: tensor<2x3x32xf32>, %p: tensor<3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{positions must be [2, 3], got [3]}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @c_kv(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x12xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{c_kv cache must be [2, L, kv_lora_rank = 16], got [2, 8, 12]}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x12xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x12xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @k_pe(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x6xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{k_pe cache must be [2, 8, qk_rope_head_dim = 4], got [2, 8, 6]}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x6xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x6xf32>
  return
}

// -----

func.func @start(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{start_pos and kv_len must be [2]}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<1xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @too_long(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x2x16xf32>, %k: tensor<2x2x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{writes 3 rows into a cache of 2}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x2x16xf32>, tensor<2x2x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x2x16xf32>, tensor<2x2x4xf32>
  return
}

// -----

func.func @results(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{results must have the types of hidden and the caches}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xbf16>, tensor<2x8x4xf32>
  return
}

// -----

func.func @weight_type(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{weight_type must be bf16, f16, f32 or f8E4M3FN, got 'i8'}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, weight_type = i8} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @theta(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{theta must be greater than 1}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, theta = 1.0 : f64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @yarn_no_factor(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{YaRN keys given without factor}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, beta_fast = 32.0 : f64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

func.func @factor_no_orig(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{factor requires original_max_position_embeddings}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, factor = 40.0 : f64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

// num_heads near 2^62 passed the verifier, then the decomposition built
// weights of a wrapped size.
func.func @num_heads_huge(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{num_heads = 4611686018427387904 is negative or exceeds 2^48 elements}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 4611686018427387904 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}

// -----

// Each attribute is bounded, and so are the products the decomposition
// makes of them (here the [B, heads, S, L] scores: 2 x 2^24 x 3 x 2^24).
func.func @scores_huge(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x16777216x16xf32>, %k: tensor<2x16777216x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  // expected-error @+1 {{B x num_heads x S x L = 2 x 16777216 x 3 x 16777216 is negative or exceeds 2^48 elements}}
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 16777216 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x16777216x16xf32>, tensor<2x16777216x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x16777216x16xf32>, tensor<2x16777216x4xf32>
  return
}
