func.func @dispatch_rank(%x: tensor<4xf32>, %ids: tensor<4x2xi32>) {
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<4xf32>, tensor<4x2xi32>) -> tensor<8x4xf32>, tensor<5xi64>, tensor<8xi64>
  return
}
