//===- SinkConstantGlobals.cpp - constant tables into the kernels ---------===//
//
// Bufferization turns a constant tensor (the rope's YaRN frequencies, say)
// into a `memref.global` of the host module and a `memref.get_global` in
// host code. A kernel that reads it would get the host address as an
// argument, which a GPU cannot dereference. Sinking the `memref.get_global`
// into each launch that uses it makes gpu-kernel-outlining copy the global
// into the kernel's gpu.module, where it lowers to initialized device memory
// (PTX `.global`).
//
//===----------------------------------------------------------------------===//
#include "dsv3/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUSINKCONSTANTGLOBALS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

struct Dsv3GPUSinkConstantGlobals
    : dsv3::impl::Dsv3GPUSinkConstantGlobalsBase<Dsv3GPUSinkConstantGlobals> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    auto global = [&](memref::GetGlobalOp get) {
      return symbols.lookupNearestSymbolFrom<memref::GlobalOp>(
          get, get.getNameAttr());
    };
    // A mutable global is host memory the host code may write: no kernel
    // can share it.
    WalkResult shared = module.walk([&](memref::GetGlobalOp get) {
      if (get->getParentOfType<gpu::GPUModuleOp>() ||
          get->getParentOfType<gpu::LaunchOp>())
        return WalkResult::advance();
      memref::GlobalOp g = global(get);
      if (g && g.getConstant())
        return WalkResult::advance();
      for (Operation *user : get->getUsers())
        if (user->getParentOfType<gpu::LaunchOp>()) {
          get.emitOpError("a kernel uses the mutable host global ")
              << get.getNameAttr() << "; kernels read constant globals only";
          return WalkResult::interrupt();
        }
      return WalkResult::advance();
    });
    if (shared.wasInterrupted())
      return signalPassFailure();
    module.walk([&](gpu::LaunchOp launch) {
      (void)sinkOperationsIntoLaunchOp(launch, [&](Operation *op) {
        auto get = dyn_cast<memref::GetGlobalOp>(op);
        memref::GlobalOp g = get ? global(get) : nullptr;
        return g && g.getConstant();
      });
    });
  }
};

} // namespace
