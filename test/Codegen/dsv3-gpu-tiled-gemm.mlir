// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-tiled-gemm | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-tiled-gemm=tensor-cores=false | FileCheck %s --check-prefix=FMA
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-tiled-gemm=shared-memory=false | FileCheck %s --check-prefix=SIM

// A prompt's kv_a_proj_with_mqa (dynamic tokens, 576 FP8 rows, K = 7168):
// a block per (64 tokens, 64 weight rows) on a grid of ceil(M / 64) x 9; the
// activation tile [64, 136] and the weight tile [64, 136] (rows padded by 8
// elements) and the running f32 result [64, 72] in shared memory; 56 K
// blocks of 128, each a staging phase of 16 x 16 threads and a product
// phase of 8 warps: warp w takes tokens 16 (w / 2) and weight rows
// 32 (w % 2), 8 steps of 16 columns, each one [16, 16] activation tile and
// four [8, 16] weight tiles widened to f32 and four m16n8k16 contracts, then
// the promotion of its four [16, 8] sums (times the block's scale; the first
// block initializes the result). A last phase of threads rounds the result
// into its tile of the output.
// CHECK-LABEL: func.func @prompt
// CHECK:       %[[M:.*]] = tensor.dim %{{.*}}, %c0
// CHECK:       %[[MT:.*]] = arith.ceildivsi %[[M]], %c64
// CHECK:       scf.forall (%[[BM:.*]], %[[BN:.*]]) in (%[[MT]], 9) shared_outs
// CHECK-DAG:     bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<64x136xbf16>
// CHECK-DAG:     bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<64x136xf8E4M3FN>
// CHECK-DAG:     bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<64x72xf32>
// CHECK:         scf.for %[[KB:.*]] = %{{.*}} to %c56
// CHECK:           %[[FIRST:.*]] = arith.cmpi eq, %[[KB]]
// CHECK:           scf.forall (%{{.*}}, %{{.*}}) in (16, 16)
// CHECK-COUNT-4:     vector.transfer_read {{.*}} : tensor<?x7168xbf16>, vector<8xbf16>
// CHECK-COUNT-4:     vector.transfer_read {{.*}} : tensor<576x7168xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:           } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:           %[[SCALE:.*]] = tensor.extract %{{.*}}[%{{.*}}, %[[KB]]] : tensor<5x56xf32>
// CHECK:           scf.forall (%[[W:.*]]) in (8)
// CHECK:             %[[R0:.*]] = arith.muli %{{.*}}, %c16
// CHECK:             %[[C0:.*]] = arith.muli %{{.*}}, %c32
// CHECK:             scf.for %[[KK:.*]] = %{{.*}} to %c8 {{.*}} -> (vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>, vector<16x8xf32>)
// CHECK:               %[[K:.*]] = arith.muli %[[KK]], %c16
// CHECK:               %[[A:.*]] = vector.transfer_read %{{.*}}[%[[R0]], %[[K]]]{{.*}} : tensor<64x136xbf16>, vector<16x16xbf16>
// CHECK:               %[[AF:.*]] = arith.extf %[[A]] : vector<16x16xbf16> to vector<16x16xf32>
// CHECK:               %[[B:.*]] = vector.transfer_read %{{.*}}[%[[C0]], %[[K]]]{{.*}} : tensor<64x136xf8E4M3FN>, vector<8x16xf8E4M3FN>
// CHECK:               %[[BF:.*]] = arith.extf %[[B]] : vector<8x16xf8E4M3FN> to vector<8x16xf32>
// CHECK:               vector.contract {{.*}} %[[AF]], %[[BF]], %{{.*}} : vector<16x16xf32>, vector<8x16xf32> into vector<16x8xf32>
// CHECK-COUNT-3:       vector.contract
// CHECK:               scf.yield
// CHECK:             vector.broadcast %[[SCALE]] : f32 to vector<16x8xf32>
// CHECK-COUNT-4:     arith.select %[[FIRST]], %{{.*}}, %{{.*}} : vector<16x8xf32>
// CHECK:           } {mapping = [#gpu.warp<linear_dim_0>]}
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (16, 16)
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:       } {mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK-NOT:   dsv3.linear
// Without tensor cores the product phase is 16 x 16 threads, 4 x 4 sums
// per thread, one fused multiply-add per product and column (128 per
// 8-column step).
// FMA-LABEL: func.func @prompt
// FMA:         %[[SCALE:.*]] = tensor.extract %{{.*}} : tensor<5x56xf32>
// FMA:         scf.forall (%{{.*}}, %{{.*}}) in (16, 16)
// FMA:           scf.for %{{.*}} = %{{.*}} to %c16
// FMA-COUNT-128:   math.fma
// FMA-NOT:         math.fma
// FMA:             scf.yield
// FMA:           arith.mulf %{{.*}}, %[[SCALE]] : f32
// FMA:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// FMA-NOT:     vector.contract
// CHECK-NOT:   dsv3.linear
// SIM-LABEL:   func.func @prompt
// SIM-NOT:     workgroup
// SIM:         bufferization.alloc_tensor() : tensor<64x136xbf16>
func.func @prompt(%x: tensor<?x7168xbf16>) -> tensor<?x576xf32> {
  %w = dsv3.parameter "w" : tensor<576x7168xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<5x56xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x56xf32>)
      : (tensor<?x7168xbf16>, tensor<576x7168xf8E4M3FN>) -> tensor<?x576xf32>
  return %y : tensor<?x576xf32>
}

// -----

// K = 320: two whole K blocks in the loop (8 tensor-core steps of 16
// columns each), then the last 64 columns as a block of 4 steps; a static
// token count.
// CHECK-LABEL: func.func @short_tail
// CHECK:       scf.forall (%{{.*}}, %{{.*}}) in (%{{.*}}, 3)
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c2
// CHECK:           scf.for %{{.*}} = %{{.*}} to %c8
// CHECK:         %[[TAILFIRST:.*]] = arith.constant false
// CHECK:         scf.for %{{.*}} = %{{.*}} to %c4
// CHECK:         arith.select %[[TAILFIRST]]
// CHECK:         arith.truncf %{{.*}} : f32 to bf16
// FMA-LABEL: func.func @short_tail
// FMA:         scf.for %{{.*}} = %{{.*}} to %c2
// FMA:           scf.for %{{.*}} = %{{.*}} to %c16
// FMA:         scf.for %{{.*}} = %{{.*}} to %c8
func.func @short_tail(%x: tensor<17x320xbf16>) -> tensor<17x160xbf16> {
  %w = dsv3.parameter "w" : tensor<160x320xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<2x3xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<2x3xf32>)
      : (tensor<17x320xbf16>, tensor<160x320xf8E4M3FN>) -> tensor<17x160xbf16>
  return %y : tensor<17x160xbf16>
}

// -----

// A prompt's routed experts (dynamic rows, 256 experts): the result starts
// as zeros (rows outside every segment), and the grid's x extent is
// ceil(R / 64) + 256 when R > 0 (each expert adds at most one partial
// tile), else 0. Each block finds its (expert, tile) by a scan of the
// offsets, reads that expert's weight and scale, and skips the K loop when
// it has no rows.
// CHECK-LABEL: func.func @experts
// CHECK:       %[[R:.*]] = tensor.dim %{{.*}}, %c0
// CHECK:       %[[RT:.*]] = arith.ceildivsi %[[R]], %c64
// CHECK:       %[[ZERO:.*]] = linalg.fill
// CHECK:       %[[WITH:.*]] = arith.addi %[[RT]], %c256
// CHECK:       %[[ANY:.*]] = arith.cmpi sgt, %[[R]]
// CHECK:       %[[GRID:.*]] = arith.select %[[ANY]], %[[WITH]], %[[RT]]
// CHECK:       scf.forall (%[[BX:.*]], %{{.*}}) in (%[[GRID]], 32) shared_outs(%{{.*}} = %[[ZERO]])
// CHECK:         %[[SCAN:.*]]:5 = scf.for %{{.*}} = %{{.*}} to %c256
// CHECK:           tensor.extract %{{.*}} : tensor<257xi64>
// CHECK:         %[[HAS:.*]] = arith.cmpi sgt, %[[SCAN]]#3
// CHECK:         scf.if %[[HAS]]
// CHECK:           vector.transfer_read %{{.*}}[%[[SCAN]]#4, %{{.*}}, %{{.*}}]{{.*}} : tensor<256x2048x7168xf8E4M3FN>, vector<8xf8E4M3FN>
// CHECK:           tensor.extract %{{.*}}[%[[SCAN]]#4, %{{.*}}, %{{.*}}] : tensor<256x16x56xf32>
// CHECK:         } else {
// CHECK:       } {mapping = [#gpu.block<x>, #gpu.block<y>]}
// CHECK-NOT:   dsv3.grouped_matmul
func.func @experts(%a: tensor<?x7168xbf16>, %off: tensor<257xi64>) -> tensor<?x2048xf32> {
  %w = dsv3.parameter "w" : tensor<256x2048x7168xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<256x16x56xf32>
  %y = dsv3.grouped_matmul %a, %w, %off weight_scale_inv(%s : tensor<256x16x56xf32>)
      : (tensor<?x7168xbf16>, tensor<256x2048x7168xf8E4M3FN>, tensor<257xi64>) -> tensor<?x2048xf32>
  return %y : tensor<?x2048xf32>
}

// -----

// A grouped GEMM of at most 64 static rows is the decode GEMV's
// (min-grouped-rows, 65 by default).
// CHECK-LABEL: func.func @decode_experts
// CHECK:       dsv3.grouped_matmul
func.func @decode_experts(%a: tensor<64x256xbf16>, %off: tensor<5xi64>) -> tensor<64x128xf32> {
  %w = dsv3.parameter "w" : tensor<4x128x256xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<4x1x2xf32>
  %y = dsv3.grouped_matmul %a, %w, %off weight_scale_inv(%s : tensor<4x1x2xf32>)
      : (tensor<64x256xbf16>, tensor<4x128x256xf8E4M3FN>, tensor<5xi64>) -> tensor<64x128xf32>
  return %y : tensor<64x128xf32>
}

// -----

// f32 activations (an MLP's down_proj input) take 32 tokens per block, so
// the staged activation tile stays 17 KiB; their products stay on CUDA
// cores (rounding them to a tensor core's 16-bit inputs would change them):
// each thread has 2 x 4 sums (64 fused multiply-adds per step).
// CHECK-LABEL: func.func @f32_tokens
// CHECK:       arith.ceildivsi %{{.*}}, %c32
// CHECK-DAG:     bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<32x136xf32>
// CHECK-DAG:     bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<32x72xf32>
// CHECK:         scf.for
// CHECK-COUNT-64:    math.fma
// CHECK-NOT:         math.fma
// CHECK:             scf.yield
// CHECK-NOT:   vector.contract
func.func @f32_tokens(%x: tensor<?x256xf32>) -> tensor<?x64xf32> {
  %w = dsv3.parameter "w" : tensor<64x256xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<1x2xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>)
      : (tensor<?x256xf32>, tensor<64x256xf8E4M3FN>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Left to the definition (or another strategy): activation quantization, a
// bf16 weight, K not a multiple of 8.
// CHECK-LABEL: func.func @left
// CHECK-COUNT-3: dsv3.linear
// CHECK-NOT:   scf.forall
func.func @left(%x: tensor<32x256xbf16>, %x9: tensor<32x100xbf16>)
    -> (tensor<32x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>) {
  %w = dsv3.parameter "w" : tensor<64x256xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<1x2xf32>
  %wb = dsv3.parameter "wb" : tensor<64x256xbf16>
  %w9 = dsv3.parameter "w9" : tensor<64x100xf8E4M3FN>
  %s9 = dsv3.parameter "s9" : tensor<1x1xf32>
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) act_quant(fp8_1x128)
      : (tensor<32x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<32x64xf32>
  %b = dsv3.linear %x, %wb : (tensor<32x256xbf16>, tensor<64x256xbf16>) -> tensor<32x64xf32>
  %d = dsv3.linear %x9, %w9 weight_scale_inv(%s9 : tensor<1x1xf32>)
      : (tensor<32x100xbf16>, tensor<64x100xf8E4M3FN>) -> tensor<32x64xf32>
  return %a, %b, %d : tensor<32x64xf32>, tensor<32x64xf32>, tensor<32x64xf32>
}
