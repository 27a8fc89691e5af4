//===- DropStateResults.cpp - state results become in-place updates -------===//
//
// dsv3-annotate-abi materializes each state result into its state argument,
// so after one-shot bufferization the function returns that argument's
// buffer. The runtime passes the session's buffer as the argument and expects
// no output for it: this pass removes those results. (Upstream
// drop-equivalent-buffer-results leaves public functions alone, and entries
// are public.) A result that is not the argument's buffer is copied into it
// first, so the contract holds whatever bufferization decided.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "llvm/ADT/BitVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3DROPSTATERESULTS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
struct Dsv3DropStateResultsPass
    : dsv3::impl::Dsv3DropStateResultsBase<Dsv3DropStateResultsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    llvm::StringMap<BlockArgument> stateArgs;
    for (BlockArgument arg : func.getArguments())
      if (auto s = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                     "dsv3.state"))
        stateArgs[s.getValue()] = arg;
    llvm::BitVector drop(func.getNumResults());
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
      auto s = func.getResultAttrOfType<StringAttr>(i, "dsv3.state");
      if (!s)
        continue;
      auto it = stateArgs.find(s.getValue());
      if (it == stateArgs.end() || !isa<MemRefType>(it->second.getType())) {
        func.emitError("state result ")
            << i << " ('" << s.getValue()
            << "') has no bufferized state argument";
        return signalPassFailure();
      }
      drop.set(i);
    }
    if (drop.none())
      return;
    WalkResult walk = func.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (unsigned i : drop.set_bits()) {
        auto s = func.getResultAttrOfType<StringAttr>(i, "dsv3.state");
        BlockArgument dest = stateArgs.lookup(s.getValue());
        Value v = ret.getOperand(i);
        while (auto cast = v.getDefiningOp<memref::CastOp>())
          v = cast.getSource();
        if (v == dest)
          continue;
        if (v.getType() != dest.getType()) {
          ret.emitError("state result ")
              << i << " has type " << v.getType() << " but its argument is "
              << dest.getType();
          return WalkResult::interrupt();
        }
        memref::CopyOp::create(b, ret.getLoc(), v, dest);
      }
      ret->eraseOperands(drop);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();
    if (failed(func.eraseResults(drop)))
      return signalPassFailure();
  }
};
} // namespace
