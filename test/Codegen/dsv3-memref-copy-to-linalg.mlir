// RUN: dsv3-opt %s --dsv3-memref-copy-to-linalg | FileCheck %s --check-prefixes=CHECK,ALL
// RUN: dsv3-opt %s --dsv3-memref-copy-to-linalg=keep-contiguous | FileCheck %s --check-prefixes=CHECK,KEEP

// CHECK-LABEL: func.func @strided_copy
// CHECK-NOT:   memref.copy
// CHECK:       linalg.copy ins(%{{.*}} : memref<2x200xf32, strided<[256, 1]>>) outs(%{{.*}} : memref<2x200xf32>)
func.func @strided_copy(%a: memref<2x200xf32, strided<[256, 1]>>, %b: memref<2x200xf32>) {
  memref.copy %a, %b : memref<2x200xf32, strided<[256, 1]>> to memref<2x200xf32>
  return
}

// Contiguous on both sides: a kernel on cuda, left for llvm.memcpy on host.
// CHECK-LABEL: func.func @contiguous_copy
// ALL-NEXT:    linalg.copy
// KEEP-NEXT:   memref.copy %{{.*}}, %{{.*}} : memref<2x200xf32> to memref<2x200xf32>
func.func @contiguous_copy(%a: memref<2x200xf32>, %b: memref<2x200xf32>) {
  memref.copy %a, %b : memref<2x200xf32> to memref<2x200xf32>
  return
}
