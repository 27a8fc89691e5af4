func.func @theta(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("m") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, theta = 1.0 : f64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return
}
