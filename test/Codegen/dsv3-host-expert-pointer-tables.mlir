// RUN: dsv3-opt %s --dsv3-host-expert-pointer-tables --split-input-file --verify-diagnostics | FileCheck %s

// A stacked entry argument becomes memref<E x i64>, as does the argument of
// the layer function it is passed to; each load through it reads the
// expert's address from the table and the element at the row-major offset
// of the remaining indices. FP8 is loaded as i8 and bitcast back.
// CHECK-LABEL: func.func private @layer(
// CHECK-SAME:    %[[T:[^:]*]]: memref<4xi64> {dsv3.expert_pointers}, %[[S:[^:]*]]: memref<4xi64> {dsv3.expert_pointers}
// CHECK-SAME:    %[[E:[^:]*]]: index, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index)
// CHECK:       %[[A:.*]] = memref.load %[[T]][%[[E]]] : memref<4xi64>
// CHECK:       %[[P:.*]] = llvm.inttoptr %[[A]] : i64 to !llvm.ptr
// CHECK:       %[[C5:.*]] = arith.constant 5 : index
// CHECK:       %[[R:.*]] = arith.muli %[[I]], %[[C5]] : index
// CHECK:       %[[O:.*]] = arith.addi %[[R]], %[[J]] : index
// CHECK:       %[[O64:.*]] = arith.index_cast %[[O]] : index to i64
// CHECK:       %[[Q:.*]] = llvm.getelementptr inbounds %[[P]][%[[O64]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK:       %[[B:.*]] = llvm.load %[[Q]] invariant {alignment = 1 : i64} : !llvm.ptr -> i8
// CHECK:       %[[W:.*]] = arith.bitcast %[[B]] : i8 to f8E4M3FN
// CHECK:       arith.extf %[[W]] : f8E4M3FN to f32
// CHECK:       memref.load %[[S]]
// CHECK:       llvm.load %{{.*}} invariant {alignment = 4 : i64} : !llvm.ptr -> f32
// CHECK-NOT:   arith.bitcast
// CHECK:       return
// CHECK-LABEL: func.func @entry(
// CHECK-SAME:    %{{.*}}: memref<4xi64> {dsv3.expert_pointers, dsv3.parameter = "experts.{e}.w", dsv3.stacked}
// CHECK-SAME:    %{{.*}}: memref<4xi64> {dsv3.expert_pointers, dsv3.parameter = "experts.{e}.s", dsv3.stacked}
// CHECK:       call @layer(%{{.*}}, %{{.*}}, %{{.*}}) : (memref<4xi64>, memref<4xi64>, index, index, index) -> f32
func.func private @layer(%w: memref<4x3x5xf8E4M3FN>, %s: memref<4x2x3xf32>,
                         %e: index, %i: index, %j: index) -> f32 {
  %v = memref.load %w[%e, %i, %j] : memref<4x3x5xf8E4M3FN>
  %f = arith.extf %v : f8E4M3FN to f32
  %c = memref.load %s[%e, %i, %j] : memref<4x2x3xf32>
  %r = arith.mulf %f, %c : f32
  return %r : f32
}

func.func @entry(%w: memref<4x3x5xf8E4M3FN> {dsv3.parameter = "experts.{e}.w", dsv3.stacked, dsv3.expert_pointers},
                 %s: memref<4x2x3xf32> {dsv3.parameter = "experts.{e}.s", dsv3.stacked, dsv3.expert_pointers},
                 %e: index, %i: index, %j: index) -> f32 {
  %r = func.call @layer(%w, %s, %e, %i, %j) : (memref<4x3x5xf8E4M3FN>, memref<4x2x3xf32>, index, index, index) -> f32
  return %r : f32
}

// -----

// A prefetch through the stacked buffer (the staged FP8 tiles prefetch the
// next tile's rows) becomes llvm.intr.prefetch of the element's address in
// the expert's tensor, with the same read/write, locality and cache flags.
// CHECK-LABEL: func.func @prefetches(
// CHECK-SAME:    %[[T:[^:]*]]: memref<4xi64> {dsv3.expert_pointers}, %[[E:[^:]*]]: index, %[[I:[^:]*]]: index, %[[J:[^:]*]]: index)
// CHECK:       %[[A:.*]] = memref.load %[[T]][%[[E]]] : memref<4xi64>
// CHECK:       %[[P:.*]] = llvm.inttoptr %[[A]] : i64 to !llvm.ptr
// CHECK:       %[[R:.*]] = arith.muli %[[I]], %{{.*}} : index
// CHECK:       %[[O:.*]] = arith.addi %[[R]], %[[J]] : index
// CHECK:       %[[O64:.*]] = arith.index_cast %[[O]] : index to i64
// CHECK:       %[[Q:.*]] = llvm.getelementptr inbounds %[[P]][%[[O64]]] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK:       "llvm.intr.prefetch"(%[[Q]]) <{cache = 1 : i32, hint = 3 : i32, rw = 0 : i32}> : (!llvm.ptr) -> ()
// CHECK-NOT:   memref.prefetch
func.func @prefetches(%w: memref<4x3x64xf8E4M3FN> {dsv3.expert_pointers},
                      %e: index, %i: index, %j: index) {
  memref.prefetch %w[%e, %i, %j], read, locality<3>, data : memref<4x3x64xf8E4M3FN>
  return
}

// -----

// A stacked buffer used as a whole (here copied) cannot be read through
// per-expert addresses.
func.func @copies(%w: memref<2x4xf32> {dsv3.expert_pointers}, %out: memref<2x4xf32>) {
  // expected-error @+1 {{'memref.copy' op uses a stacked parameter that the host module reads through per-expert addresses (dsv3.expert_pointers); only memref.load, an unmasked in-bounds vector.transfer_read along the last dimension, memref.prefetch and func.call can}}
  memref.copy %w, %out : memref<2x4xf32> to memref<2x4xf32>
  return
}

// -----

// A layer function that gets a table at one call site and a plain buffer at
// another cannot take both.
func.func private @layer(%w: memref<2x4xf32>, %e: index) -> f32 {
  %c0 = arith.constant 0 : index
  %v = memref.load %w[%e, %c0] : memref<2x4xf32>
  return %v : f32
}
func.func @mixed(%w: memref<2x4xf32> {dsv3.expert_pointers}, %plain: memref<2x4xf32>, %e: index) -> f32 {
  %a = func.call @layer(%w, %e) : (memref<2x4xf32>, index) -> f32
  // expected-error @+1 {{'func.call' op passes 'memref<2x4xf32>' as operand 0 of @layer, which other call sites give a table of per-expert addresses (dsv3.expert_pointers); a function cannot take both}}
  %b = func.call @layer(%plain, %e) : (memref<2x4xf32>, index) -> f32
  %r = arith.addf %a, %b : f32
  return %r : f32
}

// -----

// Only whole-byte element types have an address.
// expected-error @+1 {{argument 0 of @bits: element type 'i1' cannot be read through an address (not whole bytes)}}
func.func @bits(%w: memref<2x4xi1> {dsv3.expert_pointers}) {
  return
}

// -----

// expected-error @+1 {{argument 0 of @dynamic is marked dsv3.expert_pointers but is not a statically shaped, row-major memref [E, ...]: 'memref<?x4xf32>'}}
func.func @dynamic(%w: memref<?x4xf32> {dsv3.expert_pointers}) {
  return
}

// -----

func.func private @external(memref<2x4xf32>)
func.func @to_external(%w: memref<2x4xf32> {dsv3.expert_pointers}) {
  // expected-error @+1 {{'func.call' op passes the stacked parameter dsv3.expert_pointers (operand 0) to a function without a body}}
  func.call @external(%w) : (memref<2x4xf32>) -> ()
  return
}

// -----

// The host FP8 strategy's weight reads: an in-bounds vector along the last
// dimension is one invariant vector load at the expert's address.
// CHECK-LABEL: func.func @vector_read(
// CHECK-SAME:    %[[T:[^:]*]]: memref<4xi64> {dsv3.expert_pointers
// CHECK:       %[[A:.*]] = memref.load %[[T]][%{{.*}}] : memref<4xi64>
// CHECK:       %[[P:.*]] = llvm.inttoptr %[[A]] : i64 to !llvm.ptr
// CHECK:       %[[Q:.*]] = llvm.getelementptr inbounds %[[P]][%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK:       %[[B:.*]] = llvm.load %[[Q]] invariant {alignment = 1 : i64} : !llvm.ptr -> vector<8xi8>
// CHECK:       arith.bitcast %[[B]] : vector<8xi8> to vector<8xf8E4M3FN>
// CHECK-NOT:   vector.transfer_read
func.func @vector_read(%w: memref<4x3x16xf8E4M3FN> {dsv3.parameter = "experts.{e}.w", dsv3.stacked, dsv3.expert_pointers},
                       %e: index, %i: index, %k: index) -> vector<8xf8E4M3FN> {
  %pad = arith.constant 0.0 : f8E4M3FN
  %v = vector.transfer_read %w[%e, %i, %k], %pad {in_bounds = [true]} : memref<4x3x16xf8E4M3FN>, vector<8xf8E4M3FN>
  return %v : vector<8xf8E4M3FN>
}

// -----

// A read that may run past the row (not in bounds) is not one load.
func.func @vector_read_padded(%w: memref<4x3x16xf8E4M3FN> {dsv3.parameter = "experts.{e}.w", dsv3.stacked, dsv3.expert_pointers},
                              %e: index, %i: index, %k: index) -> vector<8xf8E4M3FN> {
  %pad = arith.constant 0.0 : f8E4M3FN
  // expected-error @+1 {{'vector.transfer_read' op uses a stacked parameter that the host module reads through per-expert addresses}}
  %v = vector.transfer_read %w[%e, %i, %k], %pad : memref<4x3x16xf8E4M3FN>, vector<8xf8E4M3FN>
  return %v : vector<8xf8E4M3FN>
}
