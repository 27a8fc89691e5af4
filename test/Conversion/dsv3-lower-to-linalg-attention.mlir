// RUN: dsv3-opt %s --dsv3-lower-to-linalg --split-input-file | FileCheck %s

// Interleaved rope: the last dim is viewed as [D/2, 2] and both pair members
// are read through constant-index maps. The YaRN frequencies are an f32
// constant (D = 8: low = 1, high = 3, so f'_2 = 0.01·(0.5 + 0.5/40) and
// f'_3 = 0.001/40); angle = f32(p)·f', rotation in f32, one truncation.
// CHECK-DAG:  #[[A:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
// CHECK-DAG:  #[[B:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 1)>
// CHECK-DAG:  #[[P:.*]] = affine_map<(d0, d1, d2, d3) -> (d0)>
// CHECK-DAG:  #[[F:.*]] = affine_map<(d0, d1, d2, d3) -> (d2)>
// CHECK-LABEL: func.func @rope_interleaved
// CHECK:      %[[FREQ:.*]] = arith.constant dense<[1.000000e+00, 1.000000e-01, 5.125000e-03, 2.500000e-05]> : tensor<4xf32>
// CHECK:      %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] output_shape [3, 2, 4, 2]
// CHECK:      linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[P]], #[[F]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[X]], %[[X]], %{{.*}}, %[[FREQ]] :
// CHECK:        arith.sitofp %{{.*}} : i64 to f32
// CHECK:        arith.mulf
// CHECK:        math.cos
// CHECK:        math.sin
// CHECK:        arith.subf
// CHECK:        arith.addf
// CHECK:        linalg.index 3
// CHECK:        arith.select
// CHECK:        arith.truncf %{{.*}} : f32 to bf16
// CHECK:      tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] : tensor<3x2x4x2xbf16> into tensor<3x2x8xbf16>
func.func @rope_interleaved(%x: tensor<3x2x8xbf16>, %p: tensor<3xi64>) -> tensor<3x2x8xbf16> {
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(4096) mscale(1.0) mscale_all_dim(1.0) : (tensor<3x2x8xbf16>, tensor<3xi64>) -> tensor<3x2x8xbf16>
  return %y : tensor<3x2x8xbf16>
}

// -----

// Half rotation: the view is [2, D/2]; pairs are (x_i, x_{i+D/2}).
// CHECK-DAG:  #[[A:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, 0, d3)>
// CHECK-DAG:  #[[B:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, 1, d3)>
// CHECK-DAG:  #[[P:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-DAG:  #[[F:.*]] = affine_map<(d0, d1, d2, d3) -> (d3)>
// CHECK-LABEL: func.func @rope_half
// CHECK:      arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
// CHECK:      tensor.expand_shape %{{.*}} output_shape [2, 3, 2, 4]
// CHECK:      linalg.generic {indexing_maps = [#[[A]], #[[B]], #[[P]], #[[F]], #{{.*}}]
// CHECK:        arith.sitofp %{{.*}} : i32 to f32
// CHECK:        linalg.index 2
func.func @rope_half(%x: tensor<2x3x8xf32>, %p: tensor<2x3xi32>) -> tensor<2x3x8xf32> {
  %y = dsv3.rope %x at %p layout(half) : (tensor<2x3x8xf32>, tensor<2x3xi32>) -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}

// -----

// Latent attention: two f32 contractions into one score tensor, the causal
// mask t <= start_pos + i and t < kv_len, max-subtracted softmax (a row with
// no visible key is shifted by 0 and gets P = 0), P·c_kv skipping zero
// weights, one truncation.
// CHECK-LABEL: func.func @latent_attention
// CHECK-DAG:  %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:  %[[SCALE:.*]] = arith.constant 0.135233805 : f32
// CHECK:      %[[NOPE:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%arg0, %arg2 : tensor<1x2x2x16xbf16>, tensor<1x5x16xbf16>) outs(%{{.*}} : tensor<1x2x2x5xf32>)
// CHECK:      %[[RAW:.*]] = linalg.generic {{.*}} ins(%arg1, %arg3 : tensor<1x2x2x8xbf16>, tensor<1x5x8xbf16>) outs(%[[NOPE]] : tensor<1x2x2x5xf32>)
// CHECK:      %[[S:.*]] = linalg.generic {{.*}} ins(%[[RAW]], %arg4, %arg5 :
// CHECK:        linalg.index 1
// CHECK:        linalg.index 3
// CHECK:        arith.cmpi sle
// CHECK:        arith.cmpi slt
// CHECK:        arith.mulf %{{.*}}, %[[SCALE]]
// CHECK:        arith.select %{{.*}}, %{{.*}}, %[[NEGINF]]
// CHECK:      %[[M:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[S]] :
// CHECK:        arith.maximumf
// CHECK:      %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[M]] :
// CHECK:        arith.cmpf oeq, %{{.*}}, %[[NEGINF]]
// CHECK:        math.exp
// CHECK:      %[[PR:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[M]], %[[SUM]] :
// CHECK:        math.exp
// CHECK:        arith.cmpf ogt
// CHECK:        arith.divf
// CHECK:      %[[O:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[PR]], %arg2 : tensor<1x2x2x5xf32>, tensor<1x5x16xbf16>)
// CHECK:        arith.cmpf one
// CHECK:        arith.select
// CHECK:      linalg.generic {{.*}} ins(%[[O]] : tensor<1x2x2x16xf32>) outs(%{{.*}} : tensor<1x2x2x16xbf16>)
// CHECK:        arith.truncf
func.func @latent_attention(%qn: tensor<1x2x2x16xbf16>, %qp: tensor<1x2x2x8xbf16>, %c: tensor<1x5x16xbf16>, %k: tensor<1x5x8xbf16>, %sp: tensor<1xi64>, %kl: tensor<1xi64>) -> tensor<1x2x2x16xbf16> {
  %o = dsv3.latent_attention %qn, %qp, %c, %k, %sp, %kl scale(0.1352338) : tensor<1x2x2x16xbf16>, tensor<1x2x2x8xbf16>, tensor<1x5x16xbf16>, tensor<1x5x8xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x2x16xbf16>
  return %o : tensor<1x2x2x16xbf16>
}

// -----

// With an lse result: one more row generic, max + log(sum), -inf for a row
// without visible keys.
// CHECK-LABEL: func.func @latent_attention_lse
// CHECK:      %[[M:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK:        arith.maximumf
// CHECK:      %[[SUM:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %[[M]] :
// CHECK:      %[[LSE:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[M]], %[[SUM]] : tensor<1x2x2xf32>, tensor<1x2x2xf32>) outs(%{{.*}} : tensor<1x2x2xf32>)
// CHECK:        %[[ANY:.*]] = arith.cmpf ogt
// CHECK:        %[[LOG:.*]] = math.log
// CHECK:        %[[V:.*]] = arith.addf %{{.*}}, %[[LOG]]
// CHECK:        arith.select %[[ANY]], %[[V]], %{{.*}}
// CHECK:      return %{{.*}}, %[[LSE]]
func.func @latent_attention_lse(%qn: tensor<1x2x2x16xf32>, %qp: tensor<1x2x2x8xf32>, %c: tensor<1x5x16xf32>, %k: tensor<1x5x8xf32>, %sp: tensor<1xi64>, %kl: tensor<1xi64>) -> (tensor<1x2x2x16xf32>, tensor<1x2x2xf32>) {
  %o, %lse = dsv3.latent_attention %qn, %qp, %c, %k, %sp, %kl scale(0.25) : tensor<1x2x2x16xf32>, tensor<1x2x2x8xf32>, tensor<1x5x16xf32>, tensor<1x5x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x2x2x16xf32>, tensor<1x2x2xf32>
  return %o, %lse : tensor<1x2x2x16xf32>, tensor<1x2x2xf32>
}

// -----

// Cache update: a parallel generic per cache with a guarded, clamped gather
// of row t - start_pos[b] from the new rows.
// CHECK-LABEL: func.func @kv_cache_update
// CHECK-DAG:  %[[S:.*]] = arith.constant 2 : index
// CHECK-DAG:  %[[Z:.*]] = arith.constant 0 : index
// The cache is the generic's init, so a state cache is updated in place.
// CHECK:      linalg.generic {{.*}} ins(%arg4 : tensor<1xi64>) outs(%arg0 : tensor<1x5x16xbf16>)
// CHECK:        %[[R:.*]] = arith.subi
// CHECK:        arith.cmpi sge, %[[R]], %[[Z]]
// CHECK:        arith.cmpi slt, %[[R]], %[[S]]
// CHECK:        %[[IN:.*]] = arith.andi
// CHECK:        %[[ROW:.*]] = arith.select %[[IN]], %[[R]], %[[Z]]
// CHECK:        %[[V:.*]] = tensor.extract %arg2[%{{.*}}, %[[ROW]], %{{.*}}] : tensor<1x2x16xf32>
// CHECK:        %[[T:.*]] = arith.truncf %[[V]] : f32 to bf16
// CHECK:        arith.select %[[IN]], %[[T]], %{{.*}} : bf16
// CHECK:      linalg.generic {{.*}} ins(%arg4 : tensor<1xi64>) outs(%arg1 : tensor<1x5x8xbf16>)
// CHECK:        tensor.extract %arg3
func.func @kv_cache_update(%c: tensor<1x5x16xbf16>, %k: tensor<1x5x8xbf16>, %nc: tensor<1x2x16xf32>, %nk: tensor<1x2x8xf32>, %sp: tensor<1xi64>) -> (tensor<1x5x16xbf16>, tensor<1x5x8xbf16>) {
  %a, %b = dsv3.kv_cache_update %c, %k, %nc, %nk, %sp : tensor<1x5x16xbf16>, tensor<1x5x8xbf16>, tensor<1x2x16xf32>, tensor<1x2x8xf32>, tensor<1xi64> -> tensor<1x5x16xbf16>, tensor<1x5x8xbf16>
  return %a, %b : tensor<1x5x16xbf16>, tensor<1x5x8xbf16>
}

// -----

// The merged lse over rows, then the merged output over [rows, D]; weights
// exp(lse - max) forced to 0 when both parts are empty (max = -inf), and a
// weight-0 part selected away so its output (even NaN) never leaks in.
// CHECK-LABEL: func.func @attention_merge
// CHECK:       %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:       linalg.generic {{.*}} ins(%arg1, %arg3 : tensor<2xf32>, tensor<2xf32>) outs(%{{.*}} : tensor<2xf32>)
// CHECK:         %[[M:.*]] = arith.maximumf
// CHECK:         arith.cmpf oeq, %[[M]], %[[NINF]]
// CHECK:         math.exp
// CHECK:         math.log
// CHECK:       linalg.generic {{.*}} ins(%arg0, %arg1, %arg2, %arg3 : tensor<2x2xf32>, tensor<2xf32>, tensor<2x2xf32>, tensor<2xf32>) outs(%{{.*}} : tensor<2x2xbf16>)
// CHECK:         arith.cmpf ogt
// CHECK:         arith.divf
// CHECK:         arith.truncf {{.*}} : f32 to bf16
func.func @attention_merge(%o1: tensor<2x2xf32>, %l1: tensor<2xf32>, %o2: tensor<2x2xf32>, %l2: tensor<2xf32>) -> (tensor<2x2xbf16>, tensor<2xf32>) {
  %o, %l = dsv3.attention_merge %o1, %l1, %o2, %l2 : tensor<2x2xf32>, tensor<2xf32>, tensor<2x2xf32>, tensor<2xf32> -> tensor<2x2xbf16>, tensor<2xf32>
  return %o, %l : tensor<2x2xbf16>, tensor<2xf32>
}

// -----

// YaRN with mscale != mscale_all_dim: Hugging Face's attention_factor
// m(40, 1) / m(40, 0.707) = 1.0857264 scales cos and sin (in f32).
// CHECK-LABEL: func.func @rope_attention_factor
// CHECK:       %[[AF:.*]] = arith.constant 1.08572638 : f32
// CHECK:         %[[C:.*]] = math.cos
// CHECK:         %[[S:.*]] = math.sin
// CHECK:         arith.mulf %[[C]], %[[AF]] : f32
// CHECK:         arith.mulf %[[S]], %[[AF]] : f32
func.func @rope_attention_factor(%x: tensor<2x4x8xf32>, %p: tensor<2xi64>) -> tensor<2x4x8xf32> {
  %y = dsv3.rope %x at %p factor(40.0) original_max_position_embeddings(4096) mscale(1.0) mscale_all_dim(0.707) : (tensor<2x4x8xf32>, tensor<2xi64>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}
