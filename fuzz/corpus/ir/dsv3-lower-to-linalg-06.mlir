func.func @rms_norm(%x: tensor<4x512xbf16>, %w: tensor<512xbf16>) -> tensor<4x512xbf16> {
  %y = dsv3.rms_norm %x, %w : (tensor<4x512xbf16>, tensor<512xbf16>) -> tensor<4x512xbf16>
  return %y : tensor<4x512xbf16>
}
