func.func @dispatch_dynamic(%x: tensor<?x4xf32>, %ids: tensor<?x2xi32>) {
  %r, %o, %t = dsv3.expert_dispatch %x, %ids alignment(1) : (tensor<?x4xf32>, tensor<?x2xi32>) -> tensor<?x4xf32>, tensor<?xi64>, tensor<?xi64>
  return
}
