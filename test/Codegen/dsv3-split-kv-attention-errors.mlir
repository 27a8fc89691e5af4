// RUN: dsv3-opt %s --dsv3-split-kv-attention=min-split-size=1 --verify-diagnostics

// One-key tiles of a 2^29-row cache would make partial outputs of
// 2^29 x 2^20 elements: refused, naming the option, instead of IR whose
// merges fail to verify.
func.func @too_many_tiles(%q: tensor<1x16x128x512xbf16>, %qp: tensor<1x16x128x64xbf16>, %c: tensor<1x536870912x512xbf16>, %k: tensor<1x536870912x64xbf16>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x16x128x512xbf16> {
  // expected-error @+1 {{split-KV partials of 536870912 key tiles x 1048576 elements exceed 2^48; raise min-split-size (now 1)}}
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.1352338)
      : tensor<1x16x128x512xbf16>, tensor<1x16x128x64xbf16>, tensor<1x536870912x512xbf16>, tensor<1x536870912x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x16x128x512xbf16>
  return %o : tensor<1x16x128x512xbf16>
}
