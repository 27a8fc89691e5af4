// RUN: dsv3-opt %s --dsv3-gpu-align-workgroup-buffers | FileCheck %s

// Every workgroup attribution of every kernel gets llvm.align = 16 (a
// larger alignment already there stays); private attributions and
// arguments are left alone.
// CHECK-LABEL: gpu.func @tiles
// CHECK-SAME:    workgroup(%{{.*}} : memref<64x128xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64},
// CHECK-SAME:              %{{.*}} : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>> {llvm.align = 16 : i64},
// CHECK-SAME:              %{{.*}} : memref<16xf32, #gpu.address_space<workgroup>> {llvm.align = 128 : i64})
// CHECK-SAME:    private(%{{.*}} : memref<4xf32, #gpu.address_space<private>>)
// CHECK-LABEL: gpu.func @none
// CHECK-NOT:     llvm.align
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @tiles(%arg0: memref<4xf32>)
        workgroup(%x : memref<64x128xbf16, #gpu.address_space<workgroup>>,
                  %w : memref<64x136xf8E4M3FN, #gpu.address_space<workgroup>>,
                  %big : memref<16xf32, #gpu.address_space<workgroup>> {llvm.align = 128 : i64})
        private(%p : memref<4xf32, #gpu.address_space<private>>) kernel {
      gpu.return
    }
    gpu.func @none(%arg0: memref<4xf32>) kernel {
      gpu.return
    }
  }
}
