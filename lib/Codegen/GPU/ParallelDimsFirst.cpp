//===- ParallelDimsFirst.cpp - parallel linalg loops outermost ------------===//
//
// GPU mapping wants one scf.parallel per op with the reductions inside it;
// see the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3PARALLELDIMSFIRST
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
struct Dsv3ParallelDimsFirstPass
    : dsv3::impl::Dsv3ParallelDimsFirstBase<Dsv3ParallelDimsFirstPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> generics;
    getOperation()->walk([&](linalg::GenericOp op) { generics.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : generics) {
      // A stable partition: parallel dims in order, then the others.
      SmallVector<unsigned> order;
      SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
      for (auto [i, it] : llvm::enumerate(iterators))
        if (linalg::isParallelIterator(it))
          order.push_back(i);
      for (auto [i, it] : llvm::enumerate(iterators))
        if (!linalg::isParallelIterator(it))
          order.push_back(i);
      if (llvm::equal(order, llvm::seq<unsigned>(0, order.size())))
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order))) {
        op.emitError("cannot interchange the loops of this op");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
