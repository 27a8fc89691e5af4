// dsv3.rms_norm of a decode token (dsv3-gpu-rms-norm): one kernel of 256
// threads per row with its partial sums and the row's scale in shared
// memory between barriers; it assembles for sm_90a without spills.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// RUN: FileCheck %s < %t/all.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*.ptx | count 2
// RUN: %cuda_path/bin/ptxas -arch=sm_90a -v %t/decode_rms_norm_input_layernorm.ptx -o %t/k.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS

// CHECK-LABEL: .entry decode_rms_norm_input_layernorm(
// CHECK:       .shared .align {{[0-9]+}} .b8 {{.*}}[1024];
// CHECK:       .shared .align {{[0-9]+}} .f32 {{.*}};
// CHECK:       bar.sync
// CHECK:       rsqrt
// CHECK:       bar.sync
// PTXAS: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// PTXAS: used 1 barriers, 1028 bytes smem

func.func @decode(%x: tensor<1x7168xf32>) -> tensor<1x7168xbf16> {
  %g = dsv3.parameter "model.layers.0.input_layernorm.weight" : tensor<7168xbf16>
  %y = dsv3.rms_norm %x, %g : (tensor<1x7168xf32>, tensor<7168xbf16>) -> tensor<1x7168xbf16>
  return %y : tensor<1x7168xbf16>
}
