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
