func.func @decode(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x4096x512xbf16>, %k: tensor<1x4096x64xbf16>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x128x512xbf16> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xbf16>
  return %o : tensor<1x1x128x512xbf16>
}
