// The full cuda module (ptxas-assembled fatbins in a shared object) of the MLA
// ops of attention-ptx.mlir.
// REQUIRES: ptxas
// RUN: dsv3-compile %S/attention-ptx.mlir --target=cuda --cuda-chip=sm_90a -o %t.so
// RUN: llvm-nm --defined-only --extern-only %t.so | FileCheck %s
// CHECK-DAG: T dsv3_entry_mla_step
// CHECK-DAG: T dsv3_module_abi_version
