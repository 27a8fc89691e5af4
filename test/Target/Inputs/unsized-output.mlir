// Input of dsv3-compile-cli.mlir: an output dimension no input sizes.
func.func @norm(%x: tensor<?x8xf32> {dsv3.dynamic_dims = [{dim = 0 : i64, max = 4 : i64, min = 1 : i64, symbol = "tokens"}]}, %w: tensor<8xf32>) -> (tensor<?x8xf32> {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows"}]}) {
  %y = dsv3.rms_norm %x, %w : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
