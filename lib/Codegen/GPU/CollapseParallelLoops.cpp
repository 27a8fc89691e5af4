//===- CollapseParallelLoops.cpp - one dimension per scf.parallel ---------===//
//
// Linearizes every outermost scf.parallel so that GPU tiling and mapping see
// one dimension whatever the op's rank; see Passes.td.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"

#include <numeric>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3COLLAPSEPARALLELLOOPS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
struct Dsv3CollapseParallelLoopsPass
    : dsv3::impl::Dsv3CollapseParallelLoopsBase<Dsv3CollapseParallelLoopsPass> {
  void runOnOperation() override {
    SmallVector<scf::ParallelOp> loops;
    getOperation()->walk<WalkOrder::PreOrder>([&](scf::ParallelOp op) {
      if (op.getNumLoops() > 1 && op.getNumReductions() == 0)
        loops.push_back(op);
      // Nested loops stay as they are: only the outermost one is mapped to
      // the grid.
      return WalkResult::skip();
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp op : loops) {
      std::vector<unsigned> all(op.getNumLoops());
      std::iota(all.begin(), all.end(), 0u);
      rewriter.setInsertionPoint(op);
      collapseParallelLoops(rewriter, op, {all});
    }
  }
};
} // namespace
