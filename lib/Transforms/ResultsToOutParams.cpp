//===- ResultsToOutParams.cpp - entry results become out-params -----------===//
//
// The module ABI passes every output as a caller-allocated buffer, so entry
// results must become out-params. Upstream's pass does that for all
// functions but gives up on a dynamically shaped result. Private layer
// functions of a dynamic-length prefill return such buffers; when the callee
// allocates the result with sizes its arguments give (the token count of its
// input), the caller can allocate it too, so those results become out-params
// here. A result whose size only the callee knows stays a result. This pass
// runs upstream's rewrite on the static ones.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/BitVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3RESULTSTOOUTPARAMS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
/// The dynamic sizes of `alloc` as (argument, dimension) pairs of its
/// function, when each is `memref.dim %arg, constant`.
static std::optional<SmallVector<std::pair<unsigned, int64_t>>>
sizesFromArguments(memref::AllocOp alloc, func::FuncOp f) {
  SmallVector<std::pair<unsigned, int64_t>> sizes;
  for (Value size : alloc.getDynamicSizes()) {
    auto dim = size.getDefiningOp<memref::DimOp>();
    auto arg = dim ? dyn_cast<BlockArgument>(dim.getSource()) : nullptr;
    std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
    if (!arg || arg.getOwner() != &f.getBody().front() || !index)
      return std::nullopt;
    sizes.push_back({arg.getArgNumber(), *index});
  }
  return sizes;
}

/// Turns the dynamically shaped results of private function `f` that it
/// allocates with sizes read from its arguments into out-params that every
/// caller allocates. Leaves `f` alone when a result does not qualify; fails
/// only if the rewrite itself does.
static LogicalResult dynamicResultsToOutParams(func::FuncOp f,
                                               ModuleOp module) {
  if (!f.getBody().hasOneBlock())
    return success();
  auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
  SmallVector<memref::AllocOp> allocs;
  SmallVector<SmallVector<std::pair<unsigned, int64_t>>> sizes;
  for (Value v : ret.getOperands()) {
    auto alloc = v.getDefiningOp<memref::AllocOp>();
    if (!alloc || !isa<MemRefType>(v.getType()) ||
        llvm::is_contained(allocs, alloc))
      return success();
    auto s = sizesFromArguments(alloc, f);
    if (!s)
      return success();
    allocs.push_back(alloc);
    sizes.push_back(std::move(*s));
  }
  std::optional<SymbolTable::UseRange> uses = f.getSymbolUses(module);
  if (!uses)
    return success();
  SmallVector<func::CallOp> calls;
  for (const SymbolTable::SymbolUse &use : *uses) {
    auto call = dyn_cast<func::CallOp>(use.getUser());
    if (!call)
      return success();
    calls.push_back(call);
  }

  // Callers allocate, with the sizes of the operands the callee read them
  // from, and pass the buffers after the other arguments.
  unsigned numArgs = f.getNumArguments();
  for (func::CallOp call : calls) {
    OpBuilder b(call);
    SmallVector<Value> outs;
    for (auto [alloc, s] : llvm::zip(allocs, sizes)) {
      SmallVector<Value> dynSizes;
      for (auto [arg, dim] : s)
        dynSizes.push_back(
            memref::DimOp::create(b, call.getLoc(), call.getOperand(arg), dim));
      outs.push_back(memref::AllocOp::create(b, call.getLoc(), alloc.getType(),
                                             dynSizes,
                                             alloc.getAlignmentAttr()));
    }
    SmallVector<Value> operands(call.getOperands());
    operands.append(outs);
    auto newCall = func::CallOp::create(b, call.getLoc(), f.getSymNameAttr(),
                                        TypeRange{}, operands);
    newCall->setDiscardableAttrs(call->getDiscardableAttrDictionary());
    call.replaceAllUsesWith(outs);
    call.erase();
  }
  for (auto [i, alloc] : llvm::enumerate(allocs)) {
    if (failed(
            f.insertArgument(numArgs + i, alloc.getType(), {}, alloc.getLoc())))
      return f.emitError("dsv3-results-to-out-params: cannot add an out-param");
    alloc.replaceAllUsesWith(f.getArgument(numArgs + i));
  }
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret.getLoc());
  ret.erase();
  for (memref::AllocOp alloc : allocs)
    alloc.erase();
  llvm::BitVector all(f.getNumResults(), true);
  return f.eraseResults(all);
}

struct Dsv3ResultsToOutParamsPass
    : dsv3::impl::Dsv3ResultsToOutParamsBase<Dsv3ResultsToOutParamsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto staticResults = [](func::FuncOp f) {
      return llvm::all_of(f.getResultTypes(), [](Type t) {
        auto m = dyn_cast<MemRefType>(t);
        return !m || m.hasStaticShape();
      });
    };
    // Entries with a dynamically shaped result: each result becomes an
    // appended out-param of the same (dynamic) type, filled by a copy; the
    // runtime allocates it with the sizes the inputs give.
    for (auto f : module.getOps<func::FuncOp>()) {
      if (!f.isPublic() || f.isExternal() || staticResults(f))
        continue;
      if (!f.getBody().hasOneBlock()) {
        f.emitError("dsv3-results-to-out-params: entry '")
            << f.getSymName() << "' has more than one block";
        return signalPassFailure();
      }
      auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
      unsigned first = f.getNumArguments();
      SmallVector<Type> resultTypes(f.getResultTypes());
      for (auto [i, t] : llvm::enumerate(resultTypes)) {
        if (!isa<MemRefType>(t)) {
          f.emitError("dsv3-results-to-out-params: result ")
              << i << " of entry '" << f.getSymName() << "' is not a memref";
          return signalPassFailure();
        }
        if (failed(f.insertArgument(first + i, t, {}, f.getLoc())))
          return signalPassFailure();
      }
      OpBuilder b(ret);
      for (auto [i, v] : llvm::enumerate(ret.getOperands()))
        memref::CopyOp::create(b, ret.getLoc(), v, f.getArgument(first + i));
      func::ReturnOp::create(b, ret.getLoc());
      ret.erase();
      llvm::BitVector all(resultTypes.size(), true);
      if (failed(f.eraseResults(all)))
        return signalPassFailure();
    }
    // Private functions (an imported model's layers) whose dynamic results
    // the callers can size.
    for (auto f : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (!f.isPublic() && !f.isExternal() && !staticResults(f) &&
          failed(dynamicResultsToOutParams(f, module)))
        return signalPassFailure();
    bufferization::BufferResultsToOutParamsOpts opts;
    opts.hoistStaticAllocs = true;
    opts.modifyPublicFunctions = true;
    opts.filterFn = [&](func::FuncOp *f) { return staticResults(*f); };
    if (failed(bufferization::promoteBufferResultsToOutParams(module, opts)))
      return signalPassFailure();
  }
};
} // namespace
