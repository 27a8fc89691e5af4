// Every MLA op lowers through the cuda pipeline to PTX: cos/sin/exp come from
// libdevice (no unresolved externals), the cache update's gather and the
// masked softmax become plain kernels. --emit=ptx needs no ptxas.
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o - | FileCheck %s --implicit-check-not='.extern .func'
// Split-KV (dsv3-gpu-latent-attention, 4 key tiles of 4): one kernel with a
// block per (tile, query, head group), then the merge, a block per (query,
// head group); both reach PTX.
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --kv-split-size=4 --emit=gpu -o - | FileCheck %s --check-prefix=SPLIT
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --kv-split-size=4 --emit=ptx -o - | FileCheck %s --implicit-check-not='.extern .func'
// SPLIT:      gpu.launch_func async [%{{.*}}] @mla_step_latent_attention::@mla_step_latent_attention blocks in (%c4, %c4, %c1) threads in (%c4, %c4, %c1)
// SPLIT-SAME:   memref<4x4x4xf32>, %{{.*}} : memref<4x4x4x4x8xf32>)
// SPLIT:      gpu.launch_func async [%{{.*}}] @mla_step_latent_attention_1::@mla_step_latent_attention_1 blocks in (%c4, %c1, %c1)
// CHECK: .target sm_90a
// CHECK: .entry
func.func @mla_step(%c: tensor<2x16x32xbf16>, %k: tensor<2x16x8xbf16>, %nc: tensor<2x2x32xf32>,
                    %nk: tensor<2x2x8xf32>, %q: tensor<2x2x4x32xbf16>, %qp: tensor<2x2x4x8xf32>,
                    %start: tensor<2xi64>, %len: tensor<2xi64>, %pos: tensor<2x2xi64>)
    -> (tensor<2x2x4x32xf32>, tensor<2x16x32xbf16>, tensor<2x16x8xbf16>) {
  %qr = dsv3.rope %qp at %pos factor(40.0) original_max_position_embeddings(4096) mscale(1.0) mscale_all_dim(1.0)
      : (tensor<2x2x4x8xf32>, tensor<2x2xi64>) -> tensor<2x2x4x8xbf16>
  %kr = dsv3.rope %nk at %pos layout(half) : (tensor<2x2x8xf32>, tensor<2x2xi64>) -> tensor<2x2x8xf32>
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %kr, %start
      : tensor<2x16x32xbf16>, tensor<2x16x8xbf16>, tensor<2x2x32xf32>, tensor<2x2x8xf32>, tensor<2xi64>
      -> tensor<2x16x32xbf16>, tensor<2x16x8xbf16>
  %o = dsv3.latent_attention %q, %qr, %c2, %k2, %start, %len scale(0.1352338)
      : tensor<2x2x4x32xbf16>, tensor<2x2x4x8xbf16>, tensor<2x16x32xbf16>, tensor<2x16x8xbf16>,
        tensor<2xi64>, tensor<2xi64> -> tensor<2x2x4x32xf32>
  return %o, %c2, %k2 : tensor<2x2x4x32xf32>, tensor<2x16x32xbf16>, tensor<2x16x8xbf16>
}
