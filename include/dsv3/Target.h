//===- Target.h - from LLVM dialect to a loadable module ---------*- C++
//-*-===//
#ifndef DSV3_TARGET_H
#define DSV3_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"
#include <string>

namespace mlir::dsv3 {

struct LinkOptions {
  /// clang used to compile LLVM IR and link the shared object.
  std::string clang = DSV3_DEFAULT_CLANG;
  /// -march for host code; x86-64-v3 (AVX2+FMA) runs on any recent x86
  /// server, including the GPU machines modules are copied to.
  std::string march = "x86-64-v3";
  int optLevel = 3;
};

/// Translates an LLVM-dialect module to textual LLVM IR.
LogicalResult translateToLLVMIR(ModuleOp module, llvm::raw_ostream &os);

/// Translates `module` and compiles it with clang into the shared object
/// `outPath` (the module ABI of docs/runtime-abi.md).
LogicalResult emitSharedObject(ModuleOp module, StringRef outPath,
                               const LinkOptions &options);

/// Writes the PTX text of every gpu.binary object compiled with format=isa.
LogicalResult printGpuAssembly(ModuleOp module, llvm::raw_ostream &os);

} // namespace mlir::dsv3

#endif // DSV3_TARGET_H
