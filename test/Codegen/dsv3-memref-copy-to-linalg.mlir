// RUN: dsv3-opt %s --dsv3-memref-copy-to-linalg | FileCheck %s

// CHECK-LABEL: func.func @strided_copy
// CHECK-NOT:   memref.copy
// CHECK:       linalg.copy ins(%{{.*}} : memref<2x200xf32, strided<[256, 1]>>) outs(%{{.*}} : memref<2x200xf32>)
func.func @strided_copy(%a: memref<2x200xf32, strided<[256, 1]>>, %b: memref<2x200xf32>) {
  memref.copy %a, %b : memref<2x200xf32, strided<[256, 1]>> to memref<2x200xf32>
  return
}

// Contiguous on both sides: left for llvm.memcpy.
// CHECK-LABEL: func.func @contiguous_copy
// CHECK-NEXT:  memref.copy %{{.*}}, %{{.*}} : memref<2x200xf32> to memref<2x200xf32>
func.func @contiguous_copy(%a: memref<2x200xf32>, %b: memref<2x200xf32>) {
  memref.copy %a, %b : memref<2x200xf32> to memref<2x200xf32>
  return
}
