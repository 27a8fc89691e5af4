//===- NameKernels.cpp - kernels named after the graph op they run -------===//
//
// gpu-kernel-outlining names every kernel of a function `<func>_kernel`, so a
// profile of a decode step lists dozens of `decode_kernel`s. Each launch's
// ops still carry the location of the dsv3 op they were lowered from, which
// dsv3-name-op-locations named (`linear_q_a_proj_fp8`); this pass, just
// before outlining, gives the launch the name `<func>_<that name>` (numbered
// from the second kernel of the same op on) in its `module` and `function`
// attributes, which outlining then uses for the gpu.module and the kernel.
// Naming the launch, not the outlined kernel, lets dsv3-gpu-kernel-costs key
// the launch's cost by the kernel's final name.
//
//===----------------------------------------------------------------------===//
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/StringSet.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3NAMEKERNELS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// The first name in `loc` (a NameLoc, or one inside a fused or call-site
/// location), or null.
StringAttr nameIn(Location loc) {
  StringAttr found;
  loc->walk([&](Location l) {
    if (auto named = dyn_cast<NameLoc>(l)) {
      found = named.getName();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

/// The name most of the launch's ops carry (the first such on a tie).
StringAttr kernelSource(gpu::LaunchOp launch) {
  llvm::MapVector<StringAttr, unsigned> counts;
  launch.getBody().walk([&](Operation *op) {
    if (StringAttr name = nameIn(op->getLoc()))
      ++counts[name];
  });
  StringAttr best;
  unsigned bestCount = 0;
  for (auto &[name, count] : counts)
    if (count > bestCount)
      best = name, bestCount = count;
  return best;
}

struct Dsv3NameKernelsPass
    : dsv3::impl::Dsv3NameKernelsBase<Dsv3NameKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringSet<> taken;
    for (Operation &op : *module.getBody())
      if (auto sym = dyn_cast<SymbolOpInterface>(op))
        taken.insert(sym.getName());
    // Launches named already keep their names (and take them).
    module.walk([&](gpu::LaunchOp launch) {
      if (FlatSymbolRefAttr m = launch.getModuleAttr())
        taken.insert(m.getValue());
    });
    // Launches in program order, so numbering follows the graph.
    module.walk([&](gpu::LaunchOp launch) {
      if (launch.getModuleAttr() || launch.getFunctionAttr())
        return;
      auto host = launch->getParentOfType<func::FuncOp>();
      StringAttr source = kernelSource(launch);
      if (!host || !source)
        return;
      std::string base = (host.getSymName() + "_" + source.getValue()).str();
      std::string name = base;
      for (unsigned i = 1; taken.contains(name); ++i)
        name = base + "_" + std::to_string(i);
      taken.insert(name);
      // The kernel's module and function get the same name, as outlining
      // gives them.
      auto ref = FlatSymbolRefAttr::get(&getContext(), name);
      launch.setModuleAttr(ref);
      launch.setFunctionAttr(ref);
    });
  }
};

} // namespace
