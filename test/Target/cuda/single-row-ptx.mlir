// A single decode token: rms_norm over one row reduces in a one-thread
// kernel (dsv3-serial-loops-to-kernels), never in host code.
// RUN: dsv3-compile %s --target=cuda --emit=gpu -o - | FileCheck %s
// CHECK-LABEL: func.func @norm_one_row
// CHECK-NOT: memref.load
// CHECK: return
// CHECK: gpu.module
func.func @norm_one_row(%x: tensor<1x1536xf32>) -> tensor<1x1536xbf16> {
  %g = dsv3.parameter "model.layers.0.self_attn.q_a_layernorm.weight" : tensor<1536xbf16>
  %y = dsv3.rms_norm %x, %g : (tensor<1x1536xf32>, tensor<1536xbf16>) -> tensor<1x1536xbf16>
  return %y : tensor<1x1536xbf16>
}
