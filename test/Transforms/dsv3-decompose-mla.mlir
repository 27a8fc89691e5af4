// RUN: dsv3-opt %s --dsv3-decompose-mla="form=naive bound-by-kv-len" | FileCheck %s --check-prefixes=CHECK,NAIVE
// RUN: dsv3-opt %s --dsv3-decompose-mla=form=naive | FileCheck %s --check-prefix=UNBOUND
// RUN: dsv3-opt %s --dsv3-decompose-mla=form=absorbed | FileCheck %s --check-prefixes=CHECK,ABS
// RUN: dsv3-opt %s --dsv3-decompose-mla | FileCheck %s --check-prefixes=CHECK,AUTO
// RUN: not dsv3-opt %s --dsv3-decompose-mla=form=fast 2>&1 | FileCheck %s --check-prefix=BADFORM
// BADFORM: form must be naive, absorbed or auto, got 'fast'

// H = 2, kv_lora_rank 16, nope 8, rope 4, v 8, hidden 32, q_lora_rank 12.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT:   dsv3.mla
// CHECK:       dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<12x32xf32>
// CHECK:       dsv3.parameter "model.layers.0.self_attn.q_a_layernorm.weight" : tensor<12xf32>
// CHECK:       dsv3.rms_norm
// CHECK:       dsv3.parameter "model.layers.0.self_attn.q_b_proj.weight" : tensor<24x12xf32>
// CHECK:       dsv3.rope {{.*}} theta(5.000000e+04)
// CHECK:       dsv3.parameter "model.layers.0.self_attn.kv_a_proj_with_mqa.weight" : tensor<20x32xf32>
// CHECK:       dsv3.parameter "model.layers.0.self_attn.kv_a_layernorm.weight" : tensor<16xf32>
// CHECK:       dsv3.rope
// CHECK:       %[[C:.*]], %[[K:.*]] = dsv3.kv_cache_update
// Naive: K_nope and V from kv_b_proj of the cached rows below
// n = clamp(max_b kv_len[b], 0, L) only, heads into the batch; those rows
// alone are transposed (and k_pe's broadcast to the heads) into the
// [B·H, L, ...] keys, whose other rows are left unwritten: hidden rows are
// never read.
// NAIVE:       tensor.extract %arg5[%c0{{.*}}] : tensor<2xi64>
// NAIVE:       tensor.extract %arg5[%c1] : tensor<2xi64>
// NAIVE:       %[[N:.*]] = arith.minsi %{{.*}}, %c8 : index
// NAIVE:       %[[ROWS:.*]] = tensor.extract_slice %{{.*}}[0, 0, 0] [2, %[[N]], 16] [1, 1, 1] : tensor<2x8x16xf32> to tensor<2x?x16xf32>
// NAIVE:       %[[FLAT:.*]] = tensor.collapse_shape %[[ROWS]] {{\[}}[0, 1], [2]] : tensor<2x?x16xf32> into tensor<?x16xf32>
// NAIVE:       %[[KVB:.*]] = dsv3.parameter "model.layers.0.self_attn.kv_b_proj.weight" : tensor<32x16xf32>
// NAIVE:       %[[PROJ:.*]] = dsv3.linear %[[FLAT]], %[[KVB]] : (tensor<?x16xf32>, tensor<32x16xf32>) -> tensor<?x32xf32>
// NAIVE:       %[[EXP:.*]] = tensor.expand_shape %[[PROJ]] {{\[}}[0, 1], [2, 3]] output_shape [2, %[[N]], 2, 16]
// NAIVE:       %[[T:.*]] = linalg.transpose ins(%[[EXP]] : tensor<2x?x2x16xf32>) outs(%{{.*}} : tensor<2x2x?x16xf32>) permutation = [0, 2, 1, 3]
// NAIVE:       %[[ALL:.*]] = tensor.empty() : tensor<2x2x8x16xf32>
// NAIVE:       tensor.insert_slice %[[T]] into %[[ALL]][0, 0, 0, 0] [2, 2, %[[N]], 16] [1, 1, 1, 1]
// NAIVE:       %[[KROWS:.*]] = tensor.extract_slice %[[K]][0, 0, 0] [2, %[[N]], 4] [1, 1, 1] : tensor<2x8x4xf32> to tensor<2x?x4xf32>
// NAIVE:       %[[KB:.*]] = linalg.broadcast ins(%[[KROWS]] : tensor<2x?x4xf32>) outs(%{{.*}} : tensor<2x2x?x4xf32>) dimensions = [1]
// NAIVE:       tensor.insert_slice %[[KB]] into %{{.*}}[0, 0, 0, 0] [2, 2, %[[N]], 4] [1, 1, 1, 1] : tensor<2x2x?x4xf32> into tensor<2x2x8x4xf32>
// Without bound-by-kv-len (the cuda pipeline, whose host code cannot read
// kv_len), every cached row goes through kv_b_proj.
// UNBOUND-LABEL: func.func @prefill
// UNBOUND-NOT:   tensor.extract %arg5
// UNBOUND:       dsv3.linear %{{.*}}, %{{.*}} : (tensor<16x16xf32>, tensor<32x16xf32>) -> tensor<16x32xf32>
// NAIVE:       tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 0] [2, 3, 2, 8] [1, 1, 1, 1] : tensor<2x3x2x8xf32> into tensor<2x3x2x16xf32>
// NAIVE:       dsv3.latent_attention {{.*}} scale(0.288675129) : tensor<4x3x1x16xf32>, tensor<4x3x1x4xf32>, tensor<4x8x16xf32>, tensor<4x8x4xf32>, tensor<4xi64>, tensor<4xi64> -> tensor<4x3x1x16xf32>
// NAIVE:       tensor.extract_slice %{{.*}}[0, 0, 0, 8] [4, 3, 1, 8]
// Absorbed: W_UK and W_UV are slices of the [H, nope + v, C] view of kv_b_proj.
// ABS:         dsv3.parameter "model.layers.0.self_attn.kv_b_proj.weight" : tensor<32x16xf32>
// ABS:         tensor.expand_shape {{.*}} : tensor<32x16xf32> into tensor<2x16x16xf32>
// ABS:         tensor.extract_slice %{{.*}}[0, 0, 0] [2, 8, 16] [1, 1, 1] : tensor<2x16x16xf32> to tensor<2x8x16xf32>
// ABS:         tensor.extract_slice %{{.*}}[0, 8, 0] [2, 8, 16] [1, 1, 1] : tensor<2x16x16xf32> to tensor<2x8x16xf32>
// ABS:         linalg.generic
// ABS:         dsv3.latent_attention %{{.*}}, %{{.*}}, %[[C]], %[[K]], %{{.*}}, %{{.*}} scale(0.288675129) : tensor<2x3x2x16xf32>
// ABS:         linalg.generic
// S = 3 <= 16: auto is absorbed.
// AUTO:        dsv3.latent_attention %{{.*}}, %{{.*}}, %[[C]], %[[K]], %{{.*}}, %{{.*}} scale(0.288675129) : tensor<2x3x2x16xf32>
// CHECK:       %[[O:.*]] = dsv3.parameter "model.layers.0.self_attn.o_proj.weight" : tensor<32x16xf32>
// CHECK:       dsv3.linear %{{.*}}, %[[O]] : (tensor<6x16xf32>, tensor<32x16xf32>) -> tensor<6x32xf32>
// CHECK:       return %{{.*}}, %[[C]], %[[K]]
func.func @prefill(%x: tensor<2x3x32xf32>, %p: tensor<2x3xi64>, %c: tensor<2x8x16xf32>, %k: tensor<2x8x4xf32>, %s: tensor<2xi64>, %l: tensor<2xi64>) -> (tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>) {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("model.layers.0.self_attn") {num_heads = 2 : i64, q_lora_rank = 12 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, theta = 50000.0 : f64} : tensor<2x3x32xf32>, tensor<2x3xi64>, tensor<2x8x16xf32>, tensor<2x8x4xf32>, tensor<2xi64>, tensor<2xi64> -> tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
  return %o, %c2, %k2 : tensor<2x3x32xf32>, tensor<2x8x16xf32>, tensor<2x8x4xf32>
}

// q_lora_rank null (0), FP8: one q_proj and no query norm; every projection
// reads its weight_scale_inv, norms are bf16, and the absorbed form
// dequantizes kv_b_proj. S = 17 > 16: auto is naive.
// CHECK-LABEL: func.func @fp8_no_q_lora
// CHECK-NOT:   q_a_
// CHECK-NOT:   q_b_proj
// CHECK:       dsv3.parameter "model.layers.5.self_attn.q_proj.weight" : tensor<24x32xf8E4M3FN>
// CHECK-NEXT:  dsv3.parameter "model.layers.5.self_attn.q_proj.weight_scale_inv" : tensor<1x1xf32>
// CHECK-NOT:   dsv3.rms_norm
// CHECK:       dsv3.rope
// CHECK:       dsv3.parameter "model.layers.5.self_attn.kv_a_proj_with_mqa.weight_scale_inv" : tensor<1x1xf32>
// CHECK:       dsv3.parameter "model.layers.5.self_attn.kv_a_layernorm.weight" : tensor<16xbf16>
// NAIVE:       dsv3.parameter "model.layers.5.self_attn.kv_b_proj.weight_scale_inv" : tensor<1x1xf32>
// NAIVE:       dsv3.latent_attention {{.*}} -> tensor<4x17x1x16xbf16>
// ABS:         %[[W8:.*]] = dsv3.parameter "model.layers.5.self_attn.kv_b_proj.weight" : tensor<32x16xf8E4M3FN>
// ABS:         %[[S8:.*]] = dsv3.parameter "model.layers.5.self_attn.kv_b_proj.weight_scale_inv" : tensor<1x1xf32>
// ABS:         dsv3.dequantize %[[W8]], %[[S8]] block [128, 128] : tensor<32x16xf8E4M3FN>, tensor<1x1xf32> -> tensor<32x16xbf16>
// ABS:         dsv3.latent_attention {{.*}} -> tensor<2x17x2x16xbf16>
// AUTO:        dsv3.latent_attention {{.*}} -> tensor<4x17x1x16xbf16>
// CHECK:       dsv3.parameter "model.layers.5.self_attn.o_proj.weight_scale_inv" : tensor<1x1xf32>
func.func @fp8_no_q_lora(%x: tensor<2x17x32xbf16>, %p: tensor<2x17xi64>, %c: tensor<2x32x16xbf16>, %k: tensor<2x32x4xbf16>, %s: tensor<2xi64>, %l: tensor<2xi64>) -> tensor<2x17x32xbf16> {
  %o, %c2, %k2 = dsv3.mla %x, %p, %c, %k, %s, %l prefix("model.layers.5.self_attn") {num_heads = 2 : i64, kv_lora_rank = 16 : i64, qk_nope_head_dim = 8 : i64, qk_rope_head_dim = 4 : i64, v_head_dim = 8 : i64, weight_type = f8E4M3FN} : tensor<2x17x32xbf16>, tensor<2x17xi64>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>, tensor<2xi64>, tensor<2xi64> -> tensor<2x17x32xbf16>, tensor<2x32x16xbf16>, tensor<2x32x4xbf16>
  return %o : tensor<2x17x32xbf16>
}
