func.func @linear_dynamic(%x: tensor<?x128xf32>, %w: tensor<?x128xf32>) {
  %y = dsv3.linear %x, %w : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x?xf32>
  return
}
