func.func @mla(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("model.layers.0.self_attn") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}
func.func @mla_fp8_no_q_lora(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("model.layers.3.self_attn") {num_heads = 2 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, rms_norm_eps = 1.0e-5 : f32, factor = 40.0 : f64, original_max_position_embeddings = 4096 : i64, beta_fast = 32.0 : f64, beta_slow = 1.0 : f64, mscale = 1.0 : f64, mscale_all_dim = 1.0 : f64, weight_type = f8E4M3FN} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}
