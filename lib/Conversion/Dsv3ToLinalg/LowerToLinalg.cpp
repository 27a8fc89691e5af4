//===- LowerToLinalg.cpp - the dsv3-lower-to-linalg pass ------------------===//
//
// Collects the lowering patterns of every op family (Patterns.h), applies
// them greedily, and fails on any dsv3 op left but dsv3.parameter.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3LOWERTOLINALG
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {
struct Dsv3LowerToLinalgPass
    : dsv3::impl::Dsv3LowerToLinalgBase<Dsv3LowerToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    dsv3::populateCoreOpsLoweringPatterns(patterns);
    dsv3::populateModelOpsLoweringPatterns(patterns);
    dsv3::populateMoELoweringPatterns(patterns);
    dsv3::populateAttentionLoweringPatterns(patterns, boundByKvLen);
    // No folding: the lit tests check the IR exactly as the patterns build it.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
    // A total conversion: only dsv3.parameter (outlined into entry
    // arguments) is meant to survive. Anything else left here has no
    // lowering, or one that refused its operands; say so here rather than
    // let bufferization fail on an unknown op.
    bool failedOp = false;
    getOperation()->walk([&](Operation *op) {
      if (!isa_and_nonnull<dsv3::Dsv3Dialect>(op->getDialect()) ||
          isa<ParameterOp>(op))
        return;
      failedOp = true;
      InFlightDiagnostic diag =
          op->emitError("dsv3-lower-to-linalg: no lowering to linalg for '")
          << op->getName() << "'";
      if (isa<MLAOp, MoEOp, MLPOp>(op))
        diag << " (it is decomposed first: run dsv3-decompose-mla, "
                "dsv3-decompose-moe and dsv3-decompose-mlp, or a pipeline)";
    });
    if (failedOp)
      signalPassFailure();
  }
};
} // namespace
