// RUN: dsv3-opt %s --dsv3-results-to-out-params | FileCheck %s
// Entry results become out-params; a private function returning a
// dynamically shaped buffer keeps returning it (its caller cannot size it
// before the call); an entry with a dynamic result gets a dynamic out-param
// filled by a copy.

// CHECK-LABEL: func.func private @layer(%{{.*}}: memref<?x4xf32>) -> memref<?x4xf32>
func.func private @layer(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x4xf32>
  %y = memref.alloc(%n) : memref<?x4xf32>
  memref.copy %x, %y : memref<?x4xf32> to memref<?x4xf32>
  return %y : memref<?x4xf32>
}

// CHECK-LABEL: func.func private @head
// CHECK-SAME:    (%{{.*}}: memref<?x4xf32>, %{{.*}}: memref<1x4xf32>) {
// CHECK-NEXT:    return{{$}}
func.func private @head(%x: memref<?x4xf32>) -> memref<1x4xf32> {
  %y = memref.alloc() : memref<1x4xf32>
  return %y : memref<1x4xf32>
}

// CHECK-LABEL: func.func @prefill
// CHECK-SAME:    (%{{.*}}: memref<?x4xf32>, %[[LOGITS:.*]]: memref<?x4xf32>) {
// CHECK:         %[[H:.*]] = call @layer
// CHECK:         memref.copy %[[H]], %[[LOGITS]]
// CHECK-NEXT:    return{{$}}
func.func @prefill(%x: memref<?x4xf32>) -> memref<?x4xf32> {
  %h = call @layer(%x) : (memref<?x4xf32>) -> memref<?x4xf32>
  return %h : memref<?x4xf32>
}

// CHECK-LABEL: func.func @decode
// CHECK-SAME:    (%{{.*}}: memref<?x4xf32>, %{{.*}}: memref<1x4xf32>) {
// CHECK:         call @head(%{{.*}}, %{{.*}}) : (memref<?x4xf32>, memref<1x4xf32>) -> ()
func.func @decode(%x: memref<?x4xf32>) -> memref<1x4xf32> {
  %h = call @head(%x) : (memref<?x4xf32>) -> memref<1x4xf32>
  return %h : memref<1x4xf32>
}
