// RUN: dsv3-opt %s --dsv3-results-to-out-params | FileCheck %s
// Entry results become out-params. A private function returning a
// dynamically shaped buffer that it allocates with sizes of its arguments
// gets an out-param that each caller allocates with its operands' sizes; one
// whose size only the callee knows keeps returning it. An entry with a
// dynamic result gets a dynamic out-param filled by a copy.

// CHECK-LABEL: func.func private @layer
// CHECK-SAME:    (%[[X:.*]]: memref<?x4xf32>, %[[Y:.*]]: memref<?x4xf32>) {
// CHECK-NOT:     memref.alloc
// CHECK:         memref.copy %[[X]], %[[Y]]
// CHECK-NEXT:    return{{$}}
func.func private @layer(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %y = memref.alloc(%n) {alignment = 64 : i64} : memref<?x4xf32>
  memref.copy %x, %y : memref<?x4xf32> to memref<?x4xf32>
  return %y : memref<?x4xf32>
}

// The size comes from the contents of an argument: only the callee knows it.
// CHECK-LABEL: func.func private @gather(%{{.*}}: memref<1xindex>) -> memref<?xf32>
func.func private @gather(%n: memref<1xindex>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %size = memref.load %n[%c0] : memref<1xindex>
  %y = memref.alloc(%size) : memref<?xf32>
  return %y : memref<?xf32>
}

// CHECK-LABEL: func.func private @head
// CHECK-SAME:    (%{{.*}}: memref<?x4xf32>, %{{.*}}: memref<1x4xf32>) {
// CHECK-NEXT:    return{{$}}
func.func private @head(%x: memref<?x4xf32>) -> memref<1x4xf32> {
  %y = memref.alloc() : memref<1x4xf32>
  return %y : memref<1x4xf32>
}

// CHECK-LABEL: func.func @prefill
// CHECK-SAME:    (%[[IN:.*]]: memref<?x4xf32>, %{{.*}}: memref<1xindex>, %[[LOGITS:.*]]: memref<?x4xf32>) {
// CHECK:         %[[N:.*]] = memref.dim %[[IN]], %c0
// CHECK:         %[[H:.*]] = memref.alloc(%[[N]]) {alignment = 64 : i64} : memref<?x4xf32>
// CHECK:         call @layer(%[[IN]], %[[H]]) : (memref<?x4xf32>, memref<?x4xf32>) -> ()
// CHECK:         %{{.*}} = call @gather
// CHECK:         memref.copy %[[H]], %[[LOGITS]]
// CHECK-NEXT:    return{{$}}
func.func @prefill(%x: memref<?x4xf32>, %n: memref<1xindex>) -> memref<?x4xf32> {
  %h = call @layer(%x) : (memref<?x4xf32>) -> memref<?x4xf32>
  %g = call @gather(%n) : (memref<1xindex>) -> memref<?xf32>
  return %h : memref<?x4xf32>
}

// CHECK-LABEL: func.func @decode
// CHECK-SAME:    (%{{.*}}: memref<?x4xf32>, %{{.*}}: memref<1x4xf32>) {
// CHECK:         call @head(%{{.*}}, %{{.*}}) : (memref<?x4xf32>, memref<1x4xf32>) -> ()
func.func @decode(%x: memref<?x4xf32>) -> memref<1x4xf32> {
  %h = call @head(%x) : (memref<?x4xf32>) -> memref<1x4xf32>
  return %h : memref<1x4xf32>
}
