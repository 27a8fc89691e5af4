//===- NameKernels.cpp - kernels named after the graph op they run -------===//
//
// gpu-kernel-outlining names every kernel of a function `<func>_kernel`, so a
// profile of a decode step lists dozens of `decode_kernel`s. Each kernel's
// ops still carry the location of the dsv3 op they were lowered from, which
// dsv3-name-op-locations named (`linear_q_a_proj_fp8`); this pass renames
// the kernel and its gpu.module to `<func>_<that name>`, numbered from the
// second kernel of the same op on.
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

/// The name most of the kernel's ops carry (the first such on a tie).
StringAttr kernelSource(gpu::GPUFuncOp kernel) {
  llvm::MapVector<StringAttr, unsigned> counts;
  kernel.walk([&](Operation *op) {
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
    SymbolTable symbols(module);
    llvm::StringSet<> taken;
    for (Operation &op : *module.getBody())
      if (auto sym = dyn_cast<SymbolOpInterface>(op))
        taken.insert(sym.getName());
    // Launches in program order, so numbering follows the graph.
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    llvm::DenseSet<Operation *> renamed;
    for (gpu::LaunchFuncOp launch : launches) {
      auto kernelModule =
          symbols.lookup<gpu::GPUModuleOp>(launch.getKernelModuleName());
      if (!kernelModule || renamed.contains(kernelModule))
        continue;
      auto kernel =
          SymbolTable::lookupSymbolIn(kernelModule, launch.getKernelName());
      auto func = dyn_cast_or_null<gpu::GPUFuncOp>(kernel);
      auto host = launch->getParentOfType<func::FuncOp>();
      if (!func || !host)
        continue;
      StringAttr source = kernelSource(func);
      if (!source)
        continue;
      std::string base = (host.getSymName() + "_" + source.getValue()).str();
      std::string name = base;
      for (unsigned i = 1; taken.contains(name); ++i)
        name = base + "_" + std::to_string(i);
      taken.insert(name);
      auto newName = StringAttr::get(&getContext(), name);
      // The kernel's module and function get the same name, as outlining
      // gives them; every launch of it follows.
      auto oldRef = launch.getKernel();
      auto newRef =
          SymbolRefAttr::get(newName, {FlatSymbolRefAttr::get(newName)});
      for (gpu::LaunchFuncOp other : launches)
        if (other.getKernel() == oldRef)
          other.setKernelAttr(newRef);
      symbols.remove(kernelModule);
      SymbolTable::setSymbolName(kernelModule, newName);
      symbols.insert(kernelModule);
      SymbolTable(kernelModule).setSymbolName(func, newName);
      renamed.insert(kernelModule);
    }
  }
};

} // namespace
