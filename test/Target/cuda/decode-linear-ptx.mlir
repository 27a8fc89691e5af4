// The decode linears of one step (q_a_proj, FP8, one token; lm_head, bf16,
// two tokens as with one MTP draft) each run as one kernel of the cuda
// strategy's GEMV (dsv3-gpu-decode-linear): 8 warps per block, one per
// weight row, 16-byte global loads (ld.global.v4) of weights and
// activations, the lane partials in shared memory between two barriers. Both
// assemble with ptxas for sm_90a without spills, within the shared memory of
// a block.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --emit=gpu -o - | FileCheck %s --check-prefix=GPU
// RUN: dsv3-compile %s --target=cuda --emit=llvm -o - | FileCheck %s --check-prefix=LLVM
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*.ptx | count 3
// 7 x 16 FP8 weights widened by the hardware conversion, one per value.
// RUN: grep -c cvt.rn.f16x2.e4m3x2 %t/decode_linear_q_a_proj_fp8.ptx | FileCheck %s --check-prefix=CVT
// CVT: 112
// RUN: for f in %t/decode_linear_*.ptx; do %cuda_path/bin/ptxas -arch=sm_90a -v $f -o $f.cubin 2>&1; done | FileCheck %s --check-prefix=PTXAS

// What one launch of each kernel moves and computes (dsv3-gpu-kernel-costs),
// in the module metadata for dsv3-run --benchmark's GB/s and TFLOP/s:
// q_a_proj reads 1536 x 7168 FP8 codes, 12 x 56 f32 scales and 7168 bf16
// activations and writes 1536 bf16 (11030144 bytes), 2 x 1536 x 7168 flops;
// lm_head reads 129280 x 7168 bf16 weights and 2 x 7168 activations and
// writes 2 x 129280 f32.
// GPU:       dsv3.kernel_costs = {decode_linear_lm_head = {bytes = 1854420992 : i64, flops = 3706716160 : i64}, decode_linear_q_a_proj_fp8 = {bytes = 11030144 : i64, flops = 22020096 : i64}}
// LLVM:      @__dsv3_metadata({{.*}}\22kernels\22:[{\22bytes\22:1854420992,\22flops\22:3706716160,\22name\22:\22decode_linear_lm_head\22},{\22bytes\22:11030144,\22flops\22:22020096,\22name\22:\22decode_linear_q_a_proj_fp8\22}]
// GPU:       gpu.launch_func {{.*}} @decode_linear_q_a_proj_fp8::@decode_linear_q_a_proj_fp8 blocks in (%c192, %c1, %c1) threads in (%c32, %c8, %c1)
// GPU:       gpu.launch_func {{.*}} @decode_linear_lm_head::@decode_linear_lm_head blocks in (%c16160, %c1, %c1) threads in (%c32, %c8, %c1)
// GPU-NOT:   gpu.launch_func
// GPU:       gpu.func @decode_linear_q_a_proj_fp8({{.*}}) workgroup(%{{.*}} : memref<8x32x1xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel
// GPU:       vector.load %{{.*}} {alignment = 16 : i64} : memref<1536x7168xf8E4M3FN>, vector<16xf8E4M3FN>
// GPU:       vector.load %{{.*}} {alignment = 16 : i64} : memref<1x7168xbf16>, vector<16xbf16>
// GPU:       gpu.barrier
// GPU:       gpu.barrier
// GPU:       gpu.func @decode_linear_lm_head({{.*}}) workgroup(%{{.*}} : memref<8x32x2xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}) kernel

// The chunk loop of q_a_proj (14 chunks of 512 columns) is unrolled 7 times:
// per lane, 7 weight loads and 14 activation loads in one basic block.
// PTX-LABEL: .entry decode_linear_q_a_proj_fp8(
// PTX:       .shared .align {{[0-9]+}} .b8 {{.*}}[1024];
// PTX-COUNT-21: ld.global.v4.b32
// PTX-NOT:   ld.global.v4.b32
// PTX:       st.shared
// PTX:       bar.sync
// PTX:       ld.shared
// PTX-LABEL: .entry decode_linear_lm_head(
// PTX:       .shared .align {{[0-9]+}} .b8 {{.*}}[2048];
// PTX:       ld.global.v4.b32

// PTXAS-COUNT-2: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS-NOT: spill stores
// PTXAS-NOT: error

func.func @decode(%x: tensor<1x7168xbf16>, %h: tensor<2x7168xbf16>)
    -> (tensor<1x1536xbf16>, tensor<2x129280xf32>) {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<12x56xf32>
  %q = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>)
      : (tensor<1x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<1x1536xbf16>
  %lm = dsv3.parameter "lm_head.weight" : tensor<129280x7168xbf16>
  %logits = dsv3.linear %h, %lm : (tensor<2x7168xbf16>, tensor<129280x7168xbf16>) -> tensor<2x129280xf32>
  return %q, %logits : tensor<1x1536xbf16>, tensor<2x129280xf32>
}
