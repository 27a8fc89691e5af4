// RUN: dsv3-opt %s --dsv3-mark-glue-functions | FileCheck %s
// RUN: dsv3-opt %s --dsv3-mark-glue-functions=min-calls=3 | FileCheck %s --check-prefix=THREE

// One block of calls: compiled without optimization (FastISel).
// CHECK-LABEL: llvm.func @entry
// CHECK-SAME:    passthrough = ["noinline", "optnone"]
// THREE-LABEL: llvm.func @entry
// THREE-NOT:     passthrough
llvm.func @layer(%x: !llvm.ptr)
llvm.func @entry(%x: !llvm.ptr) {
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  llvm.return
}

// A loop: optimized as before.
// CHECK-LABEL: llvm.func @loop
// CHECK-NOT:     passthrough
llvm.func @loop(%x: !llvm.ptr, %n: i64) {
  %c0 = llvm.mlir.constant(0 : i64) : i64
  %c1 = llvm.mlir.constant(1 : i64) : i64
  llvm.br ^bb1(%c0 : i64)
^bb1(%i: i64):
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  %j = llvm.add %i, %c1 : i64
  %done = llvm.icmp "eq" %j, %n : i64
  llvm.cond_br %done, ^bb2, ^bb1(%j : i64)
^bb2:
  llvm.return
}

// No call: nothing to gain either way, left alone.
// CHECK-LABEL: llvm.func @leaf
// CHECK-NOT:     passthrough
llvm.func @leaf(%a: i64) -> i64 {
  %b = llvm.add %a, %a : i64
  llvm.return %b : i64
}

// Branches forward only (an entry that frees a buffer if it was allocated):
// still no loop, so still glue.
// CHECK-LABEL: llvm.func @forward
// CHECK-SAME:    passthrough = ["noinline", "optnone"]
llvm.func @forward(%x: !llvm.ptr, %c: i1) {
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  llvm.cond_br %c, ^bb1, ^bb2
^bb1:
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  llvm.br ^bb2
^bb2:
  llvm.return
}

// Calls around an OpenMP team: the loop is in a nested region, and the
// function LLVM outlines from it would inherit optnone, so not glue.
// CHECK-LABEL: llvm.func @team
// CHECK-NOT:     passthrough
llvm.func @team(%x: !llvm.ptr) {
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  omp.parallel {
    omp.terminator
  }
  llvm.call @layer(%x) : (!llvm.ptr) -> ()
  llvm.return
}
