func.func @dispatch_gemm_combine(%x: tensor<4x64xbf16>, %ids: tensor<4x2xi32>, %w: tensor<4x2xf32>, %we: tensor<4x33x64xf8E4M3FN>, %s: tensor<4x1x1xf32>) -> tensor<4x33xbf16> {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<4x64xbf16>, tensor<4x2xi32>) -> tensor<20x64xbf16>, tensor<5xi64>, tensor<20xi64>
  %d = dsv3.grouped_matmul %rows, %we, %off weight_scale_inv(%s : tensor<4x1x1xf32>) : (tensor<20x64xbf16>, tensor<4x33x64xf8E4M3FN>, tensor<5xi64>) -> tensor<20x33xbf16>
  %y = dsv3.expert_combine %d, %ids, %w, %off : (tensor<20x33xbf16>, tensor<4x2xi32>, tensor<4x2xf32>, tensor<5xi64>) -> tensor<4x33xbf16>
  return %y : tensor<4x33xbf16>
}
