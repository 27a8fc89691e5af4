func.func @linear_act_quant_k(%x: tensor<4x100xf32>, %w: tensor<8x100xf8E4M3FN>, %s: tensor<1x1xf32>) {
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) act_quant(fp8_1x128) : (tensor<4x100xf32>, tensor<8x100xf8E4M3FN>) -> tensor<4x8xf32>
  return
}
