// The kernels one decode step of V3's absorbed MLA launches on cuda
// (examples/mla_block's `decode`, 4096 cached rows), in order: every
// projection a GEMV, each norm and the query's rope one kernel, the cache
// update writing its one row with the key's rope computed as it writes, the
// absorbed-head products on the FP8 codes with their
// rounding to bf16 applied as they write, and the split-KV attention's two
// kernels. 44 with the definitions alone.
// RUN: sed 's/@L@/4097/g; s/@P@/17/g' %S/../../../examples/mla_block/graph.mlir.in > %t.mlir
// RUN: dsv3-opt %t.mlir --dsv3-decompose-mla=form=absorbed -o %t.abs.mlir
// RUN: dsv3-compile %t.abs.mlir --target=cuda --emit=gpu -o - | FileCheck %s
// RUN: dsv3-compile %t.abs.mlir --target=cuda --emit=ptx -o - | FileCheck %s --check-prefix=PTX

// The ropes' YaRN frequency table is device memory of their kernels
// (dsv3-gpu-sink-constant-globals), not a host address passed to them.
// PTX:         .global .align 64 .b8 __constant_32xf32[128] = {0, 0, 128, 63,
// CHECK-LABEL: func.func @decode(
// CHECK-NOT:   memref.get_global
// CHECK:       gpu.launch_func {{.*}} @decode_linear_q_a_proj_fp8::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_rms_norm_q_a_layernorm::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_linear_q_b_proj_fp8::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_rope::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_linear_kv_a_proj_with_mqa_fp8::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_rms_norm_kv_a_layernorm::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_kv_cache_update::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_absorbed_uk_kv_b_proj_fp8::{{.*}} args({{.*}} : memref<1x128x64x8xbf16>)
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_latent_attention::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_latent_attention_1::
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_absorbed_uv_kv_b_proj_fp8::{{.*}} args({{.*}} : memref<1x128x128xbf16>)
// CHECK-NOT:   gpu.launch_func
// CHECK:       gpu.launch_func {{.*}} @decode_linear_o_proj_fp8::
// CHECK-NOT:   gpu.launch_func
// CHECK:       return
