//===- KernelCosts.cpp - each kernel's bytes and flops for the profile ----===//
//
// `dsv3-run --benchmark` times every kernel of a cuda call with CUDA events;
// turning a time into GB/s or TFLOP/s needs what one launch moves and
// computes, which only the strategy that wrote the kernel knows (a GEMV reads
// its weight once, a grouped GEMM only the routed experts' weights). The
// strategies record it on their block foralls, dsv3-gpu-map-foralls moves it
// to the gpu.launch, and this pass, between dsv3-name-kernels and outlining,
// collects it by kernel name into the module's `dsv3.kernel_costs`, which
// dsv3-emit-module-abi writes into the module metadata.
//
//===----------------------------------------------------------------------===//
#include "ForallKernels.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUKERNELCOSTS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

struct Dsv3GPUKernelCosts
    : dsv3::impl::Dsv3GPUKernelCostsBase<Dsv3GPUKernelCosts> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    NamedAttrList costs;
    if (auto existing = module->getAttrOfType<DictionaryAttr>(kModuleAttr))
      costs.append(existing.getValue());
    WalkResult result = module.walk([&](gpu::LaunchOp launch) {
      Attribute cost = launch->removeAttr(gpu_kernels::kKernelCostAttr);
      if (!cost)
        return WalkResult::advance();
      auto fields = dyn_cast<DictionaryAttr>(cost);
      bool valid =
          fields && !fields.empty() &&
          llvm::all_of(fields, [](NamedAttribute f) {
            auto v = dyn_cast<IntegerAttr>(f.getValue());
            return (f.getName() == "bytes" || f.getName() == "flops") && v &&
                   v.getType().isInteger(64) && v.getValue().isNonNegative();
          });
      if (!valid) {
        launch.emitOpError()
            << "'" << gpu_kernels::kKernelCostAttr
            << "' must be a non-empty dictionary of non-negative i64 "
               "'bytes' and 'flops'";
        return WalkResult::interrupt();
      }
      // A launch that dsv3-name-kernels did not name (no op of it carries
      // a name) gets outlining's name, which is not known yet.
      FlatSymbolRefAttr name = launch.getFunctionAttr();
      if (!name)
        return WalkResult::advance();
      if (costs.get(name.getAttr())) {
        launch.emitOpError()
            << "a second launch of kernel " << name << " with a cost";
        return WalkResult::interrupt();
      }
      costs.append(name.getAttr(), cost);
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    if (!costs.empty())
      module->setAttr(kModuleAttr, costs.getDictionary(&getContext()));
  }

  static constexpr llvm::StringLiteral kModuleAttr = "dsv3.kernel_costs";
};

} // namespace
