// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-latent-attention | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-latent-attention=tensor-cores=false | FileCheck %s --check-prefix=FMA
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-latent-attention=shared-memory=false | FileCheck %s --check-prefix=SIM
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-latent-attention=keys-per-block=1000 | FileCheck %s --check-prefix=TILE
// RUN: not dsv3-opt %s --split-input-file --dsv3-gpu-latent-attention=keys-per-block=0 2>&1 | FileCheck %s --check-prefix=ERR

// A V3 decode step (128 heads, kv_lora_rank 512, rope 64) over a 4096-row
// cache. Kernel 1: a block per (key tile of 256 rows: 16 tiles, query,
// group of 16 heads: 8 groups). The tile's visible count e comes from
// start_pos clamped to L (no wrap) and kv_len. Phase A on tensor cores: 8
// warps, warp w taking keys [32 w, 32 w + 32) of the tile as 4 groups of 8
// (rows clamped below L - 8), unless none is visible: per 16 channels (32
// steps over the 512 latent channels, 4 over the 64 rope channels) the 16
// heads' [16, 16] query tile once and an m16n8k16 contract with each
// group's [8, 16] cache tile, then the 4 sums scaled into a shared
// [16, 264] buffer (rows padded). Phase B: a thread per head: max, exp in
// place, 1 / sum, the tile's lse into the [16, 1, 128] partials, and p
// normalized in place. Phase C on tensor cores: warp w takes channels
// [64 w, 64 w + 64) as 8 n-tiles; per 16 visible keys the [16, 16]
// probabilities as three bf16 terms (hi, mid, lo: exactly p) and, per
// n-tile, the cache's [8 channels, 16 keys] tile (rows read as columns,
// keys past e are 0), 3 contracts; the sums go to the [16, 1, 128, 64, 8]
// partials. (Without tensor cores, FMA below, thread (head, channel lane
// x) sums p * c_kv for channel groups x, x + 16, x + 32, x + 48 and scales
// by 1 / sum at the end.)
// CHECK-LABEL: func.func @decode
// CHECK:       %[[PO:.*]] = tensor.empty() : tensor<16x1x128x64x8xf32>
// CHECK:       %[[PL:.*]] = tensor.empty() : tensor<16x1x128xf32>
// CHECK:       %[[PART:.*]]:2 = scf.forall (%[[N:.*]], %[[BS:.*]], %[[G:.*]]) in (16, 1, 8) shared_outs(%[[O:.*]] = %[[PO]], %[[L:.*]] = %[[PL]])
// CHECK:         arith.minsi %{{.*}}, %c4096
// CHECK:         arith.minsi %{{.*}}, %c256
// CHECK:         %[[E:.*]] = arith.maxsi
// CHECK:         %[[SBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<16x264xf32>
// CHECK:         %[[S:.*]] = scf.forall (%[[W:.*]]) in (8) shared_outs(%{{.*}} = %[[SBUF]])
// CHECK:           %[[LO:.*]] = arith.muli %[[W]], %c32
// CHECK:           tensor.extract_slice %{{.*}}[0, %[[LO]]] [16, 32] [1, 1] : tensor<16x264xf32> to tensor<16x32xf32>
// CHECK-COUNT-4:   arith.minsi %{{.*}}, %c4088
// CHECK:           %[[ANY:.*]] = arith.cmpi sgt, %[[E]], %[[LO]]
// CHECK:           scf.if %[[ANY]]
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c512 step %c16{{.*}} -> (vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>)
// CHECK:               vector.transfer_read {{.*}} : tensor<1x1x128x512xbf16>, vector<16x16xbf16>
// CHECK-NOT:           tensor<1x1x128x512xbf16>
// CHECK-COUNT-4:       vector.contract
// CHECK:             scf.for %{{.*}} = %c0{{.*}} to %c64 step %c16
// CHECK:               vector.transfer_read {{.*}} : tensor<1x1x128x64xbf16>, vector<16x16xbf16>
// CHECK:               vector.transfer_read {{.*}} : tensor<1x4096x64xbf16>, vector<8x16xbf16>
// CHECK-COUNT-4:     vector.transfer_write {{.*}} : vector<16x8xf32>, tensor<16x32xf32>
// CHECK:         } {mapping = [#gpu.warp<linear_dim_0>]}
// CHECK:         %[[LSE:.*]] = tensor.extract_slice %[[L]][%[[N]], %[[BS]], %{{.*}}] [1, 1, 16] [1, 1, 1] : tensor<16x1x128xf32> to tensor<16xf32>
// CHECK:         %[[IBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<16xf32>
// CHECK:         %[[P:.*]]:3 = scf.forall (%{{.*}}) in (16) shared_outs(%{{.*}} = %[[S]], %{{.*}} = %[[IBUF]], %{{.*}} = %[[LSE]])
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %[[E]]
// CHECK:             arith.maximumf
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c256
// CHECK:             math.exp
// CHECK:           arith.divf
// CHECK:           math.log
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %[[E]]
// CHECK:             arith.mulf
// CHECK:         } {mapping = [#gpu.thread<x>]}
// CHECK:         %[[OB:.*]] = tensor.extract_slice %[[O]][%[[N]], %[[BS]], %{{.*}}, 0, 0] [1, 1, 16, 64, 8]
// CHECK:         %[[ROWS:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}, %{{.*}}, 0] [1, %[[E]], 512] [1, 1, 1] : tensor<1x4096x512xbf16> to tensor<?x512xbf16>
// CHECK:         %[[C:.*]] = scf.forall (%[[W2:.*]]) in (8) shared_outs(%{{.*}} = %[[OB]])
// CHECK:           %[[C0:.*]] = arith.muli %[[W2]], %c64
// CHECK:           tensor.extract_slice %{{.*}} [16, 8, 8] [1, 1, 1] : tensor<16x64x8xf32> to tensor<16x8x8xf32>
// CHECK:           %[[STEPS:.*]] = arith.ceildivsi %[[E]], %c16
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %[[STEPS]] {{.*}} -> (vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>)
// CHECK:             %[[PT:.*]] = vector.transfer_read %[[P]]#0{{.*}} : tensor<16x264xf32>, vector<16x16xf32>
// CHECK:             %[[HI:.*]] = arith.truncf %[[PT]] : vector<16x16xf32> to vector<16x16xbf16>
// CHECK:             %[[R:.*]] = arith.subf %[[PT]], %{{.*}}
// CHECK:             %[[MID:.*]] = arith.truncf %[[R]]
// CHECK:             %[[LO:.*]] = arith.truncf %{{.*}} : vector<16x16xf32> to vector<16x16xbf16>
// CHECK:             %[[V:.*]] = vector.transfer_read %[[ROWS]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true, false], permutation_map = #{{.*}}} : tensor<?x512xbf16>, vector<8x16xbf16>
// CHECK-COUNT-3:     vector.contract
// CHECK:           } {mapping = [#gpu.warp<linear_dim_0>]}
// CHECK:         scf.forall.in_parallel
// CHECK-NEXT:      tensor.parallel_insert_slice %[[C]] into %[[O]]
// CHECK-NEXT:      tensor.parallel_insert_slice %[[P]]#2 into %[[L]]
// CHECK:       } {mapping = [#gpu.block<x>, #gpu.block<y>, #gpu.block<z>]}
// Kernel 2: a block per (query, head group); thread (head, x) merges the 16
// tiles' partials by their lse and rounds to bf16 once, into the result
// viewed as [1, 1, 128, 64, 8].
// CHECK:       %[[Y:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2], [3, 4]] output_shape [1, 1, 128, 64, 8]
// CHECK:       %[[M:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (1, 8) shared_outs(%{{.*}} = %[[Y]])
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (16, 16)
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c16
// CHECK:             tensor.extract %[[PART]]#1
// CHECK:             arith.maximumf
// CHECK:           scf.for %{{.*}} = %c0{{.*}} to %c16
// CHECK:             math.exp
// CHECK-COUNT-4:     vector.transfer_read %[[PART]]#0{{.*}} : tensor<16x1x128x64x8xf32>, vector<8xf32>
// CHECK:           arith.divf %{{.*}} : vector<8xf32>
// CHECK:           arith.truncf %{{.*}} : f32 to bf16
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:       } {mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK:       %[[R:.*]] = tensor.collapse_shape %[[M]] {{\[}}[0], [1], [2], [3, 4]] : tensor<1x1x128x64x8xbf16> into tensor<1x1x128x512xbf16>
// CHECK:       return %[[R]]
// CHECK-NOT:   dsv3.latent_attention
// Without tensor cores phase A is thread (head, key lane) scoring keys
// kl, kl + 16, ... with 8-wide products over 512 + 64 channels, -inf past
// e, into a shared [16, 256] buffer.
// FMA-LABEL: func.func @decode
// FMA:         arith.minsi %{{.*}}, %c4096
// FMA:         arith.minsi %{{.*}}, %c256
// FMA:         %[[E:.*]] = arith.maxsi
// FMA:         %[[SBUF:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<16x256xf32>
// FMA:         scf.forall (%{{.*}}, %{{.*}}) in (16, 16) shared_outs(%{{.*}} = %[[SBUF]])
// FMA:           tensor.extract_slice %{{.*}} [1, 16] [1, 16] : tensor<16x256xf32> to tensor<1x16xf32>
// FMA:           arith.cmpi slt, %{{.*}}, %[[E]]
// FMA:           scf.if
// FMA:             scf.for %{{.*}} = %c0{{.*}} to %c512 step %c8
// FMA:               vector.transfer_read {{.*}} : tensor<1x1x128x512xbf16>, vector<8xbf16>
// FMA:               vector.transfer_read {{.*}} : tensor<1x4096x512xbf16>, vector<8xbf16>
// FMA:             scf.for %{{.*}} = %c0{{.*}} to %c64 step %c8
// FMA:             vector.reduction <add>
// FMA:           } else {
// FMA:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// FMA:         %[[OB:.*]] = tensor.extract_slice %{{.*}}[1, 1, 16, 64, 8]
// FMA:         scf.forall (%{{.*}}, %{{.*}}) in (16, 16) shared_outs(%{{.*}} = %[[OB]])
// FMA:           scf.for %{{.*}} = %c0{{.*}} to %[[E]] {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// FMA-COUNT-4:     vector.transfer_read {{.*}} : tensor<1x4096x512xbf16>, vector<8xbf16>
// FMA:           tensor.extract_slice %{{.*}} [1, 4, 8] [1, 16, 1] : tensor<16x64x8xf32> to tensor<1x4x8xf32>
// FMA:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// FMA-NOT:     vector.contract
// SIM-LABEL:   func.func @decode
// SIM-NOT:     #gpu.address_space<workgroup>
// SIM:         bufferization.alloc_tensor() : tensor<16x264xf32>
// Tiles of 1000 rows: 5 tiles, the last of 96 rows (its e is at most 96);
// 8 key lanes (the largest power of two up to 16 dividing 1000).
// TILE-LABEL:  func.func @decode
// TILE:        scf.forall ({{.*}}) in (5, 1, 8)
// TILE:          arith.minsi %{{.*}}, %c1000
// TILE:          scf.forall ({{.*}}) in (16, 8) shared_outs({{.*}}) -> (tensor<16x1000xf32>)
// ERR:         keys-per-block must be at least 1, got 0
func.func @decode(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x4096x512xbf16>,
                  %k: tensor<1x4096x64xbf16>, %start: tensor<1xi64>, %len: tensor<1xi64>) -> tensor<1x1x128x512xbf16> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>,
        tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xbf16>
  return %o : tensor<1x1x128x512xbf16>
}

// -----

// Two sequences of 2 queries (an MTP verification chunk), 4 heads, C = 32
// (4 channel groups: 4 lanes, one group each), a 6-row cache in one tile,
// with the lse result: the merge writes it from a second phase, one thread
// per head.
// CHECK-LABEL: func.func @with_lse
// CHECK:       scf.forall ({{.*}}) in (1, 4, 1) shared_outs({{.*}}) -> (tensor<1x4x4x4x8xf32>, tensor<1x4x4xf32>)
// CHECK:         scf.forall ({{.*}}) in (4, 2)
// CHECK:         tensor<4x6xf32>
// CHECK:       scf.forall ({{.*}}) in (4, 1) shared_outs({{.*}}) -> (tensor<2x2x4x4x8xf32>, tensor<2x2x4xf32>)
// CHECK:         scf.forall ({{.*}}) in (4, 4)
// CHECK:         scf.forall ({{.*}}) in (4) shared_outs
// CHECK:           math.log
// CHECK:       } {mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK-NOT:   dsv3.latent_attention
func.func @with_lse(%q: tensor<2x2x4x32xf32>, %qp: tensor<2x2x4x16xf32>, %c: tensor<2x6x32xf32>,
                    %k: tensor<2x6x16xf32>, %start: tensor<2xi32>, %len: tensor<2xi32>)
    -> (tensor<2x2x4x32xf32>, tensor<2x2x4xf32>) {
  %o, %lse = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.125)
      : tensor<2x2x4x32xf32>, tensor<2x2x4x16xf32>, tensor<2x6x32xf32>, tensor<2x6x16xf32>,
        tensor<2xi32>, tensor<2xi32> -> tensor<2x2x4x32xf32>, tensor<2x2x4xf32>
  return %o, %lse : tensor<2x2x4x32xf32>, tensor<2x2x4xf32>
}

// -----

// Left to the definition: a prefill of any length (dynamic S), and channel
// counts that are not whole 8-element vectors.
// CHECK-LABEL: func.func @prefill
// CHECK:       dsv3.latent_attention
// CHECK-LABEL: func.func @odd_rope
// CHECK:       dsv3.latent_attention
func.func @prefill(%q: tensor<1x?x4x32xbf16>, %qp: tensor<1x?x4x16xbf16>, %c: tensor<1x64x32xbf16>,
                   %k: tensor<1x64x16xbf16>, %start: tensor<1xi64>, %len: tensor<1xi64>) -> tensor<1x?x4x32xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.125)
      : tensor<1x?x4x32xbf16>, tensor<1x?x4x16xbf16>, tensor<1x64x32xbf16>, tensor<1x64x16xbf16>,
        tensor<1xi64>, tensor<1xi64> -> tensor<1x?x4x32xf32>
  return %o : tensor<1x?x4x32xf32>
}
func.func @odd_rope(%q: tensor<1x1x4x32xbf16>, %qp: tensor<1x1x4x12xbf16>, %c: tensor<1x64x32xbf16>,
                    %k: tensor<1x64x12xbf16>, %start: tensor<1xi64>, %len: tensor<1xi64>) -> tensor<1x1x4x32xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale(0.125)
      : tensor<1x1x4x32xbf16>, tensor<1x1x4x12xbf16>, tensor<1x64x32xbf16>, tensor<1x64x12xbf16>,
        tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x32xf32>
  return %o : tensor<1x1x4x32xf32>
}
