// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-kv-cache-update | FileCheck %s

// Two sequences, two new rows each (an MTP chunk), into a 4097-row cache.
// One kernel: a block per (new row s, sequence b) whose shared outputs are
// the cache operands themselves (bufferization then writes the state in
// place). start_pos must satisfy 0 <= start_pos <= L - S = 4095; the block
// writes row start_pos + s, or (when the rows do not fit, and the cache must
// stay as it was) row s with its own values. Threads stride over the
// columns: 256 threads x 2 for c_kv, 64 x 1 for k_pe; the f32 rope key is
// rounded to bf16 once.
// CHECK-LABEL: func.func @chunk
// CHECK-SAME:  %[[C:[a-z0-9]+]]: tensor<2x4097x512xbf16>, %[[K:[a-z0-9]+]]: tensor<2x4097x64xbf16>, %[[NC:[a-z0-9]+]]: tensor<2x2x512xbf16>, %[[NK:[a-z0-9]+]]: tensor<2x2x64xf32>, %[[START:[a-z0-9]+]]: tensor<2xi32>
// CHECK:       %[[R:.*]]:2 = scf.forall (%[[S:.*]], %[[B:.*]]) in (2, 2) shared_outs(%[[CO:.*]] = %[[C]], %[[KO:.*]] = %[[K]])
// CHECK:         %[[P:.*]] = tensor.extract %[[START]][%[[B]]] : tensor<2xi32>
// CHECK:         %[[P0:.*]] = arith.index_cast %[[P]] : i32 to index
// CHECK:         arith.cmpi sge, %[[P0]], %{{.*}}
// CHECK:         arith.cmpi sle, %[[P0]], %c4095
// CHECK:         %[[FITS:.*]] = arith.andi
// CHECK:         %[[AT:.*]] = arith.addi %[[P0]], %[[S]]
// CHECK:         %[[ROW:.*]] = arith.select %[[FITS]], %[[AT]], %[[S]]
// CHECK:         %[[CROW:.*]] = tensor.extract_slice %[[CO]][%[[B]], %[[ROW]], 0] [1, 1, 512] [1, 1, 1] : tensor<2x4097x512xbf16> to tensor<512xbf16>
// CHECK:         %[[CW:.*]] = scf.forall (%[[T:.*]]) in (256) shared_outs(%[[CL:.*]] = %[[CROW]])
// CHECK:           tensor.extract_slice %[[CL]][%[[T]]] [2] [256]
// CHECK:           scf.if %[[FITS]] -> (bf16)
// CHECK:             tensor.extract %[[NC]][%[[B]], %[[S]], %{{.*}}]
// CHECK:           } else {
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[KROW:.*]] = tensor.extract_slice %[[KO]][%[[B]], %[[ROW]], 0] [1, 1, 64]
// CHECK:         %[[KW:.*]] = scf.forall (%{{.*}}) in (64) shared_outs(%{{.*}} = %[[KROW]])
// CHECK:           scf.if %[[FITS]] -> (bf16)
// CHECK:             arith.truncf %{{.*}} : f32 to bf16
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         scf.forall.in_parallel
// CHECK-NEXT:      tensor.parallel_insert_slice %[[CW]] into %[[CO]][%[[B]], %[[ROW]], 0] [1, 1, 512] [1, 1, 1]
// CHECK-NEXT:      tensor.parallel_insert_slice %[[KW]] into %[[KO]][%[[B]], %[[ROW]], 0] [1, 1, 64] [1, 1, 1]
// A launch reads the new rows and start_pos and writes 2 x 2 rows of each
// cache, not the caches (updated in place).
// CHECK:       } {dsv3.kernel_cost = {bytes = 9736 : i64}, mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK:       return %[[R]]#0, %[[R]]#1
func.func @chunk(%c: tensor<2x4097x512xbf16>, %k: tensor<2x4097x64xbf16>, %nc: tensor<2x2x512xbf16>,
                 %nk: tensor<2x2x64xf32>, %start: tensor<2xi32>) -> (tensor<2x4097x512xbf16>, tensor<2x4097x64xbf16>) {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %start
      : tensor<2x4097x512xbf16>, tensor<2x4097x64xbf16>, tensor<2x2x512xbf16>, tensor<2x2x64xf32>, tensor<2xi32>
      -> tensor<2x4097x512xbf16>, tensor<2x4097x64xbf16>
  return %c2, %k2 : tensor<2x4097x512xbf16>, tensor<2x4097x64xbf16>
}

// -----

// A prefill of any length keeps the definition.
// CHECK-LABEL: func.func @prefill
// CHECK:       dsv3.kv_cache_update
func.func @prefill(%c: tensor<1x64x32xbf16>, %k: tensor<1x64x16xbf16>, %nc: tensor<1x?x32xf32>,
                   %nk: tensor<1x?x16xf32>, %start: tensor<1xi64>) -> (tensor<1x64x32xbf16>, tensor<1x64x16xbf16>) {
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %start
      : tensor<1x64x32xbf16>, tensor<1x64x16xbf16>, tensor<1x?x32xf32>, tensor<1x?x16xf32>, tensor<1xi64>
      -> tensor<1x64x32xbf16>, tensor<1x64x16xbf16>
  return %c2, %k2 : tensor<1x64x32xbf16>, tensor<1x64x16xbf16>
}

// -----

// The key's rope, whose only use is the new k_pe rows, is computed by the
// kernel as it writes them: the pair of each column (interleaved: 2i, 2i + 1)
// rotated by positions[b, s] times the YaRN frequency of the pair (an f32
// table), the definition's arithmetic, rounded to the rope's bf16; the rope
// op is gone. A launch reads the rope's input and positions instead of the
// rows.
// CHECK-LABEL: func.func @roped
// CHECK:       %[[F:.*]] = arith.constant dense<{{.*}}> : tensor<32xf32>
// CHECK:       scf.forall
// CHECK:         tensor.extract %[[F]]
// CHECK:         math.cos
// CHECK:         math.sin
// CHECK:         arith.select
// CHECK:         arith.truncf %{{.*}} : f32 to bf16
// CHECK:       } {dsv3.kernel_cost = {bytes = 2320 : i64}, mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK-NOT:   dsv3.rope
func.func @roped(%c: tensor<1x4097x512xbf16>, %k: tensor<1x4097x64xbf16>, %nc: tensor<1x1x512xbf16>,
                 %nk: tensor<1x1x64xbf16>, %pos: tensor<1x1xi64>, %start: tensor<1xi64>)
    -> (tensor<1x4097x512xbf16>, tensor<1x4097x64xbf16>) {
  %kr = dsv3.rope %nk at %pos factor(40.0) original_max_position_embeddings(4096) beta_fast(32.0) beta_slow(1.0) mscale(1.0) mscale_all_dim(1.0)
      : (tensor<1x1x64xbf16>, tensor<1x1xi64>) -> tensor<1x1x64xbf16>
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %kr, %start
      : tensor<1x4097x512xbf16>, tensor<1x4097x64xbf16>, tensor<1x1x512xbf16>, tensor<1x1x64xbf16>, tensor<1xi64>
      -> tensor<1x4097x512xbf16>, tensor<1x4097x64xbf16>
  return %c2, %k2 : tensor<1x4097x512xbf16>, tensor<1x4097x64xbf16>
}
