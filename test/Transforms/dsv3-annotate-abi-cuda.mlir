// RUN: dsv3-opt %s --dsv3-annotate-abi=target=cuda | FileCheck %s
// The cuda target takes dynamic token dimensions as the host one does (see
// dsv3-annotate-abi.mlir): the metadata records the symbol and its range, and
// the runtime sizes buffers from the inputs.

// CHECK: \22dynamic_dims\22:[{\22dim\22:1,\22max\22:64,\22min\22:1,\22symbol\22:\22tokens\22}],\22name\22:\22ids\22
// CHECK-SAME: \22target\22:\22cuda\22
func.func @tokens(%x: tensor<1x?xi64> {dsv3.name = "ids", dsv3.dynamic_dims = [{dim = 1 : i64, symbol = "tokens", min = 1 : i64, max = 64 : i64}]}) {
  return
}
