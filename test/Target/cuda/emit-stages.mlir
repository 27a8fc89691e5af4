// --emit stops the cuda pipeline after each stage (no toolkit needed up to
// gpu).
// RUN: dsv3-compile %s --target=cuda --emit=linalg -o - | FileCheck %s --check-prefix=LINALG
// RUN: dsv3-compile %s --target=cuda --emit=bufferized -o - | FileCheck %s --check-prefix=BUF
// RUN: dsv3-compile %s --target=cuda --emit=gpu -o - | FileCheck %s --check-prefix=GPU

// LINALG: \22target\22:\22cuda\22
// LINALG: func.func @quant(%{{.*}}: tensor<4x256xf32> {bufferization.writable = false}) -> (tensor<4x256xf8E4M3FN>, tensor<4x2xf32>)
// LINALG: linalg.generic

// BUF: func.func @quant(%{{.*}}: memref<4x256xf32>, %{{.*}}: memref<4x256xf8E4M3FN>, %{{.*}}: memref<4x2xf32>) attributes {llvm.emit_c_interface}
// BUF: memref.alloc
// BUF: linalg.generic

// One kernel per linalg op, one thread per element of its parallel space,
// named after the function and the graph op (dsv3-name-kernels); the host
// function allocates on the device, launches on one stream and waits before
// returning.
// GPU: module attributes {{{.*}}gpu.container_module}
// GPU-LABEL: func.func @quant(
// GPU: %[[T0:.*]] = gpu.wait async
// GPU: %[[T1:.*]] = gpu.launch_func async [%[[T0]]] @quant_quantize::@quant_quantize blocks in (%{{.*}}, %{{.*}}, %{{.*}}) threads in (%c256, %c1, %c1)
// GPU: gpu.alloc async
// GPU: gpu.dealloc async
// GPU: gpu.wait [%{{.*}}]
// GPU-NEXT: return
// GPU-NOT: memref.alloc
// The block amax: parallel dims collapsed into the thread index, the 128
// reduction elements a serial loop in each thread.
// GPU: gpu.module @quant_quantize_1
// GPU: gpu.block_id x
// GPU: gpu.thread_id x
// GPU: scf.if
// GPU: scf.for %{{.*}} = %c0 to %c128 step %c1
// GPU: math.absf
// GPU: arith.maxnumf
// GPU: gpu.module @quant_quantize_3
// GPU: arith.truncf %{{.*}} : f32 to f8E4M3FN

func.func @quant(%x: tensor<4x256xf32>) -> (tensor<4x256xf8E4M3FN>, tensor<4x2xf32>) {
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<4x256xf32> -> tensor<4x256xf8E4M3FN>, tensor<4x2xf32>
  return %q, %s : tensor<4x256xf8E4M3FN>, tensor<4x2xf32>
}
