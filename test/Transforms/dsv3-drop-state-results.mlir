// RUN: dsv3-opt %s --dsv3-drop-state-results --split-input-file --verify-diagnostics | FileCheck %s

// The state result is its argument's buffer (bufferization wrote in place):
// it just leaves the signature; the ordinary result stays.
// CHECK-LABEL: func.func @in_place(
// CHECK-SAME:    %[[KV:.*]]: memref<8xf32> {dsv3.state = "kv"}, %{{.*}}: memref<2xf32>) -> memref<2xf32>
// CHECK-NOT:   memref.copy
// CHECK:       return %{{.*}} : memref<2xf32>
func.func @in_place(%kv: memref<8xf32> {dsv3.state = "kv"}, %x: memref<2xf32>)
    -> (memref<8xf32> {dsv3.state = "kv"}, memref<2xf32>) {
  %c = memref.cast %kv : memref<8xf32> to memref<8xf32>
  return %c, %x : memref<8xf32>, memref<2xf32>
}

// -----

// Another buffer is copied into the state argument first.
// CHECK-LABEL: func.func @copied(
// CHECK-SAME:    %[[KV:.*]]: memref<8xf32> {dsv3.state = "kv"}) {
// CHECK:       %[[NEW:.*]] = memref.alloc() : memref<8xf32>
// CHECK:       memref.copy %[[NEW]], %[[KV]]
// CHECK:       return{{$}}
func.func @copied(%kv: memref<8xf32> {dsv3.state = "kv"}) -> (memref<8xf32> {dsv3.state = "kv"}) {
  %new = memref.alloc() : memref<8xf32>
  return %new : memref<8xf32>
}

// -----

// expected-error @+1 {{state result 0 ('kv') has no bufferized state argument}}
func.func @orphan(%x: memref<8xf32>) -> (memref<8xf32> {dsv3.state = "kv"}) {
  return %x : memref<8xf32>
}
