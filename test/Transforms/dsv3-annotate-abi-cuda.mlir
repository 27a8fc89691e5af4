// RUN: dsv3-opt %s --dsv3-annotate-abi=target=cuda | FileCheck %s
// RUN: dsv3-opt %s --dsv3-annotate-abi="target=cuda x86-64-level=x86-64-v3" | FileCheck %s --check-prefix=LEVEL
// RUN: not dsv3-opt %s --dsv3-annotate-abi="x86-64-level=avx2" 2>&1 | FileCheck %s --check-prefix=BADLEVEL
// LEVEL: \22target\22:\22cuda\22,\22x86_64_level\22:\22x86-64-v3\22
// BADLEVEL: error: x86-64-level must be x86-64 or x86-64-v2, -v3, -v4, got 'avx2'
// The cuda target takes dynamic token dimensions as the host one does (see
// dsv3-annotate-abi.mlir): the metadata records the symbol and its range, and
// the runtime sizes buffers from the inputs.

// CHECK: \22dynamic_dims\22:[{\22dim\22:1,\22max\22:64,\22min\22:1,\22symbol\22:\22tokens\22}],\22name\22:\22ids\22
// CHECK-SAME: \22target\22:\22cuda\22
func.func @tokens(%x: tensor<1x?xi64> {dsv3.name = "ids", dsv3.dynamic_dims = [{dim = 1 : i64, symbol = "tokens", min = 1 : i64, max = 64 : i64}]}) {
  return
}
