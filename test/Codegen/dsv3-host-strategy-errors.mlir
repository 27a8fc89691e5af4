// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --dsv3-host-vectorize-fp8-linear
// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --dsv3-host-vectorize-latent-attention
// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --dsv3-host-vectorize-absorbed-heads

// Every kernel pass checks the strategies it finds before it runs, so a bad
// hand-written one is an error rather than a silent fallback to another
// form (dsv3-host-select-strategy.mlir has one test per check).
func.func @bad(%x: tensor<4x256xbf16>, %w: tensor<64x256xf8E4M3FN>, %s: tensor<1x2xf32>) {
  // expected-error @+1 {{dsv3.host_strategy: 'token_block' must be an integer in [1, 1048576]}}
  %a = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) {dsv3.host_strategy = {kernel = "weight_tiles", token_block = -3 : i64}} : (tensor<4x256xbf16>, tensor<64x256xf8E4M3FN>) -> tensor<4x64xbf16>
  return
}
