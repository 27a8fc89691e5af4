// A whole FP8 dsv3.mla block through the cuda pipeline to PTX, in both forms
// (form=auto: absorbed for the decode step, naive for the 17-token prefill).
// --emit=ptx needs no ptxas.
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o - | FileCheck %s --implicit-check-not='.extern .func'
// CHECK: .target sm_90a
// CHECK: .entry
func.func @decode(%x: tensor<2x1x32xbf16>, %p: tensor<2x1xi64>, %c: tensor<2x32x16xbf16>, %k: tensor<2x32x4xbf16>, %s: tensor<2xi64>, %l: tensor<2xi64>) -> (tensor<2x1x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>) {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("model.layers.0.self_attn") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, factor = 40.0 : f64, original_max_position_embeddings = 4096 : i64, mscale = 1.0 : f64, mscale_all_dim = 1.0 : f64, weight_type = f8E4M3FN}
      : tensor<2x1x32xbf16>, tensor<2x1xi64>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>, tensor<2xi64>, tensor<2xi64> -> tensor<2x1x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>
  return %o, %c2, %k2 : tensor<2x1x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>
}

func.func @prefill(%x: tensor<2x17x32xbf16>, %p: tensor<2x17xi64>, %c: tensor<2x32x16xbf16>, %k: tensor<2x32x4xbf16>, %s: tensor<2xi64>, %l: tensor<2xi64>) -> (tensor<2x17x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>) {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("model.layers.0.self_attn") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, factor = 40.0 : f64, original_max_position_embeddings = 4096 : i64, mscale = 1.0 : f64, mscale_all_dim = 1.0 : f64, weight_type = f8E4M3FN}
      : tensor<2x17x32xbf16>, tensor<2x17xi64>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>, tensor<2xi64>, tensor<2xi64> -> tensor<2x17x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>
  return %o, %c2, %k2 : tensor<2x17x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>
}
