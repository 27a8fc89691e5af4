//===- ResultsToOutParams.cpp - entry results become out-params -----------===//
//
// The module ABI passes every output as a caller-allocated buffer, so entry
// results must become out-params. Upstream's pass does that for all
// functions but gives up on a dynamically shaped result; private layer
// functions of a dynamic-length prefill return such buffers, and nothing
// requires them to be out-params. This pass runs upstream's rewrite on the
// functions where it applies.
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
    bufferization::BufferResultsToOutParamsOpts opts;
    opts.hoistStaticAllocs = true;
    opts.modifyPublicFunctions = true;
    opts.filterFn = [&](func::FuncOp *f) { return staticResults(*f); };
    if (failed(bufferization::promoteBufferResultsToOutParams(module, opts)))
      return signalPassFailure();
  }
};
} // namespace
