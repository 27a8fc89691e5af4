// RUN: dsv3-opt %s --dsv3-host-select-strategy --split-input-file --verify-diagnostics | FileCheck %s
// RUN: dsv3-opt %s --dsv3-host-select-strategy=bound-by-kv-len=false --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=UNBOUNDED

// The table's rows: weight-only linears (FP8 block-scaled, or bf16) and the
// dispatched experts' GEMM get weight_tiles with their default blocking; a
// K that is not whole vectors keeps the definition; ops without a row
// (rms_norm) get no strategy.
// CHECK-LABEL: func.func @linears
// CHECK:       dsv3.linear {{.*}} {dsv3.host_strategy = {decode_tokens = 16 : i64, k_chunk_blocks = 4 : i64, kernel = "weight_tiles", rows_per_task = 32 : i64, token_block = 96 : i64}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>)
// CHECK:       dsv3.linear {{.*}} {dsv3.host_strategy = {{{.*}}kernel = "weight_tiles"{{.*}}}} : (tensor<4x256xbf16>, tensor<64x256xbf16>)
// CHECK:       dsv3.linear {{.*}} {dsv3.host_strategy = {kernel = "definition"}} : (tensor<4x250xbf16>
// CHECK:       dsv3.rms_norm
// CHECK-NOT:   dsv3.host_strategy
// CHECK:       dsv3.grouped_matmul {{.*}} {dsv3.host_strategy = {decode_tokens = 16 : i64, k_chunk_blocks = 4 : i64, kernel = "weight_tiles", rows_per_task = 16 : i64, token_block = 96 : i64}}
func.func @linears(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>, %wb: tensor<64x256xbf16>, %xq: tensor<4x250xbf16>, %wq: tensor<64x250xf8E4M3FN>, %h: tensor<4x256xf32>, %g: tensor<256xbf16>, %ids: tensor<4x2xi32>, %we: tensor<8x64x256xf8E4M3FN>, %se: tensor<8x1x2xf32>) {
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  %b = dsv3.linear %x, %wb : (tensor<4x256xbf16>, tensor<64x256xbf16>) -> tensor<4x64xf32>
  %c = dsv3.linear %xq, %wq weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<4x250xbf16>, tensor<64x250xf8E4M3FN>) -> tensor<4x64xbf16>
  %n = dsv3.rms_norm %h, %g : (tensor<4x256xf32>, tensor<256xbf16>) -> tensor<4x256xbf16>
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4x256xbf16>, tensor<4x2xi32>) -> tensor<8x256xbf16>, tensor<9xi64>, tensor<8xi64>
  %y = dsv3.grouped_matmul %rows, %we, %off weight_scale_inv(%se : tensor<8x1x2xf32>) : (tensor<8x256xbf16>, tensor<8x64x256xf8E4M3FN>, tensor<9xi64>) -> tensor<8x64xf32>
  return
}

// -----

// The router's logits run on weight_tiles for a bf16 or f32 gate weight and a
// hidden size of whole vectors; otherwise (an f16 weight here), and for a
// router on given logits, the gate has no row and keeps its definition.
// CHECK-LABEL: func.func @router
// CHECK:       dsv3.moe_gate {{.*}} {dsv3.host_strategy = {{{.*}}kernel = "weight_tiles"{{.*}}}} : (tensor<4x256xbf16>, tensor<64x256xbf16>)
// CHECK-NOT:   dsv3.host_strategy
// CHECK:       return
func.func @router(%x: tensor<4x256xbf16>, %w: tensor<64x256xbf16>, %wh: tensor<64x256xf16>, %u: tensor<4x64xf32>) {
  %a, %ai = dsv3.moe_gate %x, %w scoring_func(sigmoid) topk_method(greedy) top_k(8) : (tensor<4x256xbf16>, tensor<64x256xbf16>) -> tensor<4x8xf32>, tensor<4x8xi32>
  %b, %bi = dsv3.moe_gate %x, %wh scoring_func(sigmoid) topk_method(greedy) top_k(8) : (tensor<4x256xbf16>, tensor<64x256xf16>) -> tensor<4x8xf32>, tensor<4x8xi32>
  %c, %ci = dsv3.moe_gate %u scoring_func(sigmoid) topk_method(greedy) top_k(8) : (tensor<4x64xf32>) -> tensor<4x8xf32>, tensor<4x8xi32>
  return
}

// -----

// Latent attention: the MQA kernel, unless the op is a split-KV tile (its
// lse comes from the definition) or the pipeline asked for unbounded key
// loops (the definition's form).
// CHECK-LABEL: func.func @attention
// CHECK:       dsv3.latent_attention {{.*}} {dsv3.host_strategy = {kernel = "mqa_tiles", key_block = 256 : i64}}
// CHECK:       dsv3.latent_attention {{.*}} {dsv3.host_strategy = {kernel = "definition"}}
// UNBOUNDED-LABEL: func.func @attention
// UNBOUNDED:   dsv3.latent_attention {{.*}} {dsv3.host_strategy = {kernel = "definition"}}
// UNBOUNDED:   dsv3.latent_attention {{.*}} {dsv3.host_strategy = {kernel = "definition"}}
func.func @attention(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x6x16xf32>, %k: tensor<1x6x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x6x16xf32>, tensor<1x6x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>
  %o2, %lse = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x6x16xf32>, tensor<1x6x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>, tensor<1x1x4xf32>
  return
}

// -----

// Absorbed MLA's per-head products with a dequantized kv_b_proj slice.
// CHECK-LABEL: func.func @absorbed
// CHECK:       linalg.generic {{.*}} attrs =  {dsv3.host_strategy = {kernel = "absorbed_heads"}}
#lhs = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#uv = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#out = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
func.func @absorbed(%lat: tensor<1x1x2x256xbf16>, %w: tensor<512x256xf8E4M3FN>, %s: tensor<4x2xf32>) -> tensor<1x1x2x128xf32> {
  %cst = arith.constant 0.000000e+00 : f32
  %deq = dsv3.dequantize %w, %s block [128, 128] : tensor<512x256xf8E4M3FN>, tensor<4x2xf32> -> tensor<512x256xbf16>
  %e = tensor.expand_shape %deq [[0, 1], [2]] output_shape [2, 256, 256] : tensor<512x256xbf16> into tensor<2x256x256xbf16>
  %wuv = tensor.extract_slice %e[0, 128, 0] [2, 128, 256] [1, 1, 1] : tensor<2x256x256xbf16> to tensor<2x128x256xbf16>
  %z = tensor.empty() : tensor<1x1x2x128xf32>
  %f = linalg.fill ins(%cst : f32) outs(%z : tensor<1x1x2x128xf32>) -> tensor<1x1x2x128xf32>
  %o = linalg.generic {indexing_maps = [#lhs, #uv, #out], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%lat, %wuv : tensor<1x1x2x256xbf16>, tensor<2x128x256xbf16>) outs(%f : tensor<1x1x2x128xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
  } -> tensor<1x1x2x128xf32>
  return %o : tensor<1x1x2x128xf32>
}

// -----

// A hand-written strategy that verifies is kept, missing parameters and all
// (they take the table's defaults in the kernel).
// CHECK-LABEL: func.func @override
// CHECK:       {dsv3.host_strategy = {kernel = "weight_tiles", rows_per_task = 64 : i64}}
// CHECK:       {dsv3.host_strategy = {kernel = "definition"}}
func.func @override(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>) {
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", rows_per_task = 64 : i64}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  %b = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "definition"}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}

// -----

func.func @unknown_kernel(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>) {
  // expected-error @+1 {{dsv3.host_strategy: unknown kernel 'tiles' (known: definition, weight_tiles, mqa_tiles, absorbed_heads)}}
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "tiles"}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}

// -----

func.func @wrong_op(%h: tensor<4x256xf32>, %g: tensor<256xbf16>) {
  // expected-error @+1 {{dsv3.host_strategy: kernel 'weight_tiles' cannot run this op}}
  %n = dsv3.rms_norm %h, %g {dsv3.host_strategy = {kernel = "weight_tiles"}} : (tensor<4x256xf32>, tensor<256xbf16>) -> tensor<4x256xbf16>
  return
}

// -----

func.func @condition_fails(%x: tensor<4x250xbf16>, %w: tensor<64x250xf8E4M3FN>, %s: tensor<1x2xf32>) {
  // expected-error @+1 {{kernel 'weight_tiles' cannot run this op}}
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles"}} : (tensor<4x250xbf16>, tensor<64x250xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}

// -----

func.func @unknown_param(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>) {
  // expected-error @+1 {{kernel 'weight_tiles' has no parameter 'key_block'}}
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", key_block = 8 : i64}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}

// -----

func.func @zero_rows(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>) {
  // expected-error @+1 {{'rows_per_task' must be an integer in [1, 1048576]}}
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", rows_per_task = 0 : i64}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}

// -----

func.func @huge_block(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x6x16xf32>, %k: tensor<1x6x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) {
  // expected-error @+1 {{'key_block' must be an integer in [1, 1048576]}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25) {dsv3.host_strategy = {kernel = "mqa_tiles", key_block = 170141183460469231731687303715884105727 : i128}}
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x6x16xf32>, tensor<1x6x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>
  return
}

// -----

func.func @not_a_dictionary(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>) {
  // expected-error @+1 {{dsv3.host_strategy must be a dictionary}}
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = "weight_tiles"} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}
