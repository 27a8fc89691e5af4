// dsv3-compile reports per-pass times with --mlir-timing, as mlir-opt does.
// RUN: dsv3-compile %s --target=host --emit=linalg --mlir-timing -o /dev/null 2>&1 | FileCheck %s
// CHECK: Execution time report
// CHECK: Dsv3LowerToLinalg
// CHECK: Total
// --progress: one line per module-level pass as it starts, then the link.
// RUN: dsv3-compile %s --target=host --progress -o %t.so 2>&1 | FileCheck %s --check-prefix=PROGRESS
// PROGRESS: dsv3-compile: [{{ *[0-9.]+}} s] pass 1: (function passes)
// PROGRESS: pass {{[0-9]+}}: dsv3-annotate-abi
// PROGRESS: pass {{[0-9]+}}: dsv3-emit-module-abi
// PROGRESS: passes done; translating to LLVM IR, optimizing and linking
// PROGRESS: wrote {{.*}}.so
func.func @norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %y = dsv3.rms_norm %x, %w : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
