// Every kernel of a quantize/dequantize graph assembles with ptxas for sm_90a
// without spilling.
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: dsv3-compile %s --target=cuda --cuda-chip=sm_90a --emit=ptx -o %t/all.ptx
// One PTX file per gpu.binary (each has its own .version/.target header).
// RUN: awk '/^\/\/ gpu.binary @/ { f = "%t/" substr($3, 2) ".ptx" } f { print > f }' %t/all.ptx
// RUN: ls %t/*quant*.ptx | count 7
// RUN: for f in %t/*quant*.ptx; do %cuda_path/bin/ptxas -arch=sm_90a -v $f -o $f.cubin 2>&1; done | FileCheck %s

// CHECK-COUNT-7: 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
// CHECK-NOT: spill stores
// CHECK-NOT: error

func.func @quant(%x: tensor<4x256xf32>) -> (tensor<4x256xf8E4M3FN>, tensor<4x2xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x256xf32> -> tensor<4x256xf8E4M3FN>, tensor<4x2xf32>
  return %q, %s : tensor<4x256xf8E4M3FN>, tensor<4x2xf32>
}

func.func @dequant(%q: tensor<4x256xf8E4M3FN>, %s: tensor<4x2xf32>) -> tensor<4x256xf32> {
  %y = dsv3.dequantize %q, %s block [1, 128] : tensor<4x256xf8E4M3FN>, tensor<4x2xf32> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
