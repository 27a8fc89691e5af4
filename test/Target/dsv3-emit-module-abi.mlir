// RUN: dsv3-opt %s --split-input-file --dsv3-emit-module-abi --verify-diagnostics | FileCheck %s

// Everything but the ABI is hidden; dsv3.* argument attributes are dropped.
// CHECK: llvm.func hidden @add(
// CHECK: llvm.func hidden @_mlir_ciface_add(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) {
// CHECK: llvm.mlir.global internal constant @__dsv3_metadata("{\22abi_version\22:2,\22entries\22:[{\22args\22:[{},{}],\22name\22:\22add\22}]}\00")
// CHECK: llvm.func @dsv3_module_abi_version() -> i32
// CHECK:   llvm.mlir.constant(4 : i32)
// CHECK: llvm.func @dsv3_module_metadata() -> !llvm.ptr
// CHECK:   llvm.mlir.addressof @__dsv3_metadata
// CHECK: llvm.func @dsv3_entry_add(%[[ARGV:.*]]: !llvm.ptr)
// CHECK:   %[[P0:.*]] = llvm.getelementptr %[[ARGV]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK:   %[[D0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK:   %[[P1:.*]] = llvm.getelementptr %[[ARGV]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK:   %[[D1:.*]] = llvm.load %[[P1]] : !llvm.ptr -> !llvm.ptr
// CHECK:   llvm.call @_mlir_ciface_add(%[[D0]], %[[D1]])
module attributes {dsv3.metadata = "{\22abi_version\22:2,\22entries\22:[{\22args\22:[{},{}],\22name\22:\22add\22}]}"} {
  llvm.func @add(%a: !llvm.ptr, %b: !llvm.ptr) {
    llvm.return
  }
  llvm.func @_mlir_ciface_add(%a: !llvm.ptr {dsv3.parameter = "w", dsv3.stacked}, %b: !llvm.ptr {dsv3.state = "kv", bufferization.writable = true}) {
    llvm.call @add(%a, %b) : (!llvm.ptr, !llvm.ptr) -> ()
    llvm.return
  }
}

// -----

// expected-error @+1 {{no dsv3.metadata on the module}}
module {
}

// -----

// expected-error @+1 {{entry 'f' has no C wrapper '_mlir_ciface_f'}}
module attributes {dsv3.metadata = "{\22entries\22:[{\22name\22:\22f\22}]}"} {
}

// -----

// A wrapper whose descriptor count disagrees with the metadata (e.g. a state
// result that bufferization could not drop) is refused.
module attributes {dsv3.metadata = "{\22entries\22:[{\22args\22:[{}],\22name\22:\22g\22}]}"} {
  // expected-error @+1 {{entry 'g' takes 2 descriptors but its metadata lists 1 arguments}}
  llvm.func @_mlir_ciface_g(%a: !llvm.ptr, %b: !llvm.ptr) {
    llvm.return
  }
}

// -----

// Metadata of the wrong shape is refused, not dereferenced (dsv3-opt used to
// crash on each of these).
// expected-error @+1 {{malformed dsv3.metadata: expected an object with an array "entries"}}
module attributes {dsv3.metadata = "[1, 2]"} {
}

// -----

// expected-error @+1 {{malformed dsv3.metadata: expected an object with an array "entries"}}
module attributes {dsv3.metadata = "{\22entries\22: 3}"} {
}

// -----

// expected-error @+1 {{malformed dsv3.metadata: entries[0] is not an object with a non-empty string "name"}}
module attributes {dsv3.metadata = "{\22entries\22:[{\22name\22: 7}]}"} {
}

// -----

// expected-error @+1 {{malformed dsv3.metadata: entries[1] is not an object with a non-empty string "name"}}
module attributes {dsv3.metadata = "{\22entries\22:[{\22name\22:\22f\22}, 5]}"} {
}

// -----

// expected-error @+1 {{malformed dsv3.metadata: entries[0]: "args" is not an array}}
module attributes {dsv3.metadata = "{\22entries\22:[{\22name\22:\22f\22, \22args\22: {}}]}"} {
}

// -----

// The generic allocation functions of memref-to-llvm (use-generic-functions)
// call through the exported allocator, initialized to malloc/free; the
// runtime replaces both so that a failed allocation ends the call.
// CHECK: llvm.func hidden @_mlir_memref_to_llvm_alloc(%[[N:.*]]: i64) -> (!llvm.ptr {llvm.noalias}) attributes {no_inline}
// CHECK:   %[[T:.*]] = llvm.mlir.addressof @dsv3_module_allocator
// CHECK:   %[[S:.*]] = llvm.getelementptr %[[T]][0, 0]
// CHECK:   %[[FN:.*]] = llvm.load %[[S]] : !llvm.ptr -> !llvm.ptr
// CHECK:   %[[P:.*]] = llvm.call %[[FN]](%[[N]]) : !llvm.ptr, (i64) -> !llvm.ptr
// CHECK:   llvm.return %[[P]]
// CHECK: llvm.func hidden @_mlir_memref_to_llvm_free(%[[Q:.*]]: !llvm.ptr)
// CHECK:   llvm.getelementptr %{{.*}}[0, 1]
// CHECK:   llvm.call %{{.*}}(%[[Q]]) : !llvm.ptr, (!llvm.ptr) -> ()
// CHECK: llvm.func @malloc(i64) -> !llvm.ptr
// CHECK: llvm.func @free(!llvm.ptr)
// CHECK: llvm.mlir.global external @dsv3_module_allocator() {{.*}} : !llvm.struct<(ptr, ptr)>
// CHECK:   %[[M:.*]] = llvm.mlir.addressof @malloc : !llvm.ptr
// CHECK:   llvm.insertvalue %[[M]], %{{.*}}[0]
// CHECK:   %[[F:.*]] = llvm.mlir.addressof @free : !llvm.ptr
// CHECK:   llvm.insertvalue %[[F]], %{{.*}}[1]
module attributes {dsv3.metadata = "{\22entries\22:[{\22args\22:[],\22name\22:\22scratch\22}]}"} {
  llvm.func @_mlir_memref_to_llvm_alloc(i64) -> !llvm.ptr
  llvm.func @_mlir_memref_to_llvm_free(!llvm.ptr)
  llvm.func @_mlir_ciface_scratch() {
    %n = llvm.mlir.constant(64 : i64) : i64
    %p = llvm.call @_mlir_memref_to_llvm_alloc(%n) : (i64) -> !llvm.ptr
    llvm.call @_mlir_memref_to_llvm_free(%p) : (!llvm.ptr) -> ()
    llvm.return
  }
}

// -----

module attributes {dsv3.metadata = "{\22entries\22:[]}"} {
  // expected-error @+1 {{aligned module allocations are not part of the module ABI}}
  llvm.func @_mlir_memref_to_llvm_aligned_alloc(i64, i64) -> !llvm.ptr
}
