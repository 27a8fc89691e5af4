// dsv3-compile reports per-pass times with --mlir-timing, as mlir-opt does.
// RUN: dsv3-compile %s --target=host --emit=linalg --mlir-timing -o /dev/null 2>&1 | FileCheck %s
// CHECK: Execution time report
// CHECK: Dsv3LowerToLinalg
// CHECK: Total
func.func @norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %y = dsv3.rms_norm %x, %w : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
