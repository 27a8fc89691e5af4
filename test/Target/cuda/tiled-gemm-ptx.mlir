// A prompt's q_a_proj (dynamic tokens, FP8 [1536, 7168]) runs as the cuda
// strategy's tiled GEMM (dsv3-gpu-tiled-gemm): a grid of ceil(M / 64) x 24
// blocks of 16 x 16 threads. The staged tiles and the running result are
// shared buffers aligned to 16 bytes (44544 bytes in all); activations move
// in 16-byte global loads and shared stores, FP8 weights in 8-byte ones. The
// products run on tensor cores: each of the 8 warps loads its m16n8k16
// fragments from shared memory (a 32-bit load per bf16 pair, rows 272 bytes
// apart, the 8 rows of a fragment 2176 bytes apart; FP8 pairs widened by
// cvt.rn.f16x2.e4m3x2), 4 mma.sync per 16-column step, and promotes its
// accumulators through 8-byte shared loads and stores (dsv3-gpu-warp-mma).
// The grouped GEMM of a prompt's routed experts (V3's gate_proj, 256
// experts) is the same kernel with a block per (expert, 64-row tile) after
// a fill of its result. With f32 activations (the experts' down_proj input)
// a block takes 32 rows and the products stay on fma.rn.f32 (35328 bytes of
// shared memory). ptxas assembles all three for sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --emit=gpu -o - | FileCheck %s --check-prefix=GPU
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/prefill_linear_q_a_proj_fp8.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/prefill_experts_grouped_matmul_gate_proj_fp8.ptx
// RUN: FileCheck %s --check-prefix=PTX32 < %t/prefill_down_grouped_matmul_down_proj_fp8.ptx
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/prefill_linear_q_a_proj_fp8.ptx -o %t/gemm.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/prefill_experts_grouped_matmul_gate_proj_fp8.ptx -o %t/grouped.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/prefill_down_grouped_matmul_down_proj_fp8.ptx -o %t/down.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS32

// GPU:       %[[M:.*]] = memref.dim %arg0, %c0 : memref<?x7168xbf16>
// GPU:       %[[MT:.*]] = arith.ceildivsi %[[M]], %c64
// GPU:       gpu.launch_func {{.*}} @prefill_linear_q_a_proj_fp8::@prefill_linear_q_a_proj_fp8 blocks in (%[[MT]], %c24, %c1) threads in (%c16, %c16, %c1)
// GPU:       gpu.func @prefill_linear_q_a_proj_fp8({{.*}}) workgroup(%{{.*}} : memref<64x136xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<64x72xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// GPU:       gpu.launch_func {{.*}} @prefill_experts_grouped_matmul_gate_proj_fp8_zero_fill::@prefill_experts_grouped_matmul_gate_proj_fp8_zero_fill
// GPU:       gpu.launch_func {{.*}} @prefill_experts_grouped_matmul_gate_proj_fp8::@prefill_experts_grouped_matmul_gate_proj_fp8 blocks in (%{{.*}}, %c32, %c1) threads in (%c16, %c16, %c1)
// GPU:       %[[R:.*]] = memref.dim %arg0, %c0 : memref<?x2048xf32>
// GPU:       arith.ceildivsi %[[R]], %c32
// GPU:       gpu.launch_func {{.*}} @prefill_down_grouped_matmul_down_proj_fp8::@prefill_down_grouped_matmul_down_proj_fp8 blocks in (%{{.*}}, %c112, %c1) threads in (%c16, %c16, %c1)

// PTX-LABEL: .entry prefill_{{linear_q_a_proj|experts_grouped_matmul_gate_proj}}_fp8(
// PTX-DAG:   .shared .align 16 .b8 {{.*}}[17408];
// PTX-DAG:   .shared .align 16 .b8 {{.*}}[8704];
// PTX-DAG:   .shared .align 16 .b8 {{.*}}[18432];
// PTX:       ld.global.v4.b32
// PTX:       st.shared.v4.b32
// PTX:       ld.global.v2.b32
// PTX:       st.shared.v2.b32
// PTX:       bar.sync
// PTX:       ld.shared.b32 {{.*}}, [[[A:%rd[0-9]+]]+-2176];
// PTX-NEXT:  ld.shared.b32 {{.*}}, [[[A]]];
// PTX-NEXT:  ld.shared.b32 {{.*}}, [[[A]]+-2160];
// PTX-NEXT:  ld.shared.b32 {{.*}}, [[[A]]+16];
// PTX:       ld.shared.v2.b8
// PTX:       cvt.rn.f16x2.e4m3x2
// PTX:       mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-COUNT-3: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// PTX-NOT:   mma.sync
// PTX:       ld.shared.v2.b32 {{.*}}, [[[C:%rd[0-9]+]]];
// PTX-NEXT:  ld.shared.v2.b32 {{.*}}, [[[C]]+2304];
// PTX:       st.shared.v2.b32 [[[C]]],
// PTX-NOT:   fma.rn.f32

// The f32 rows' kernel keeps CUDA-core products.
// PTX32-LABEL: .entry prefill_down_grouped_matmul_down_proj_fp8(
// PTX32-NOT:   mma.sync
// PTX32:       fma.rn.f32
// PTX32-NOT:   mma.sync

// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS: 44544 bytes smem
// PTXAS-NOT: error

// PTXAS32: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS32: 35328 bytes smem
// PTXAS32-NOT: error

func.func @prefill(%x: tensor<?x7168xbf16> {dsv3.name = "x", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens", min = 1 : i64, max = 4096 : i64}]})
    -> (tensor<?x1536xbf16> {dsv3.name = "q", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens"}]}) {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<12x56xf32>
  %q = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>)
      : (tensor<?x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<?x1536xbf16>
  return %q : tensor<?x1536xbf16>
}

func.func @prefill_experts(%a: tensor<?x7168xbf16> {dsv3.name = "rows", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows", min = 1 : i64, max = 32768 : i64}]},
    %off: tensor<257xi64> {dsv3.name = "offsets"})
    -> (tensor<?x2048xf32> {dsv3.name = "h", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows"}]}) {
  %w = dsv3.parameter "model.layers.3.mlp.experts.gate_proj.weight" : tensor<256x2048x7168xf8E4M3FN>
  %s = dsv3.parameter "model.layers.3.mlp.experts.gate_proj.weight_scale_inv" : tensor<256x16x56xf32>
  %h = dsv3.grouped_matmul %a, %w, %off weight_scale_inv(%s : tensor<256x16x56xf32>)
      : (tensor<?x7168xbf16>, tensor<256x2048x7168xf8E4M3FN>, tensor<257xi64>) -> tensor<?x2048xf32>
  return %h : tensor<?x2048xf32>
}

func.func @prefill_down(%a: tensor<?x2048xf32> {dsv3.name = "rows", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows", min = 1 : i64, max = 32768 : i64}]},
    %off: tensor<257xi64> {dsv3.name = "offsets"})
    -> (tensor<?x7168xf32> {dsv3.name = "d", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows"}]}) {
  %w = dsv3.parameter "model.layers.3.mlp.experts.down_proj.weight" : tensor<256x7168x2048xf8E4M3FN>
  %s = dsv3.parameter "model.layers.3.mlp.experts.down_proj.weight_scale_inv" : tensor<256x56x16xf32>
  %d = dsv3.grouped_matmul %a, %w, %off weight_scale_inv(%s : tensor<256x56x16xf32>)
      : (tensor<?x2048xf32>, tensor<256x7168x2048xf8E4M3FN>, tensor<257xi64>) -> tensor<?x7168xf32>
  return %d : tensor<?x7168xf32>
}
