//===- LowerToLinalg.cpp - the dsv3-lower-to-linalg pass ------------------===//
//
// Collects the lowering patterns of every op family (Patterns.h) and applies
// them greedily.
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
    dsv3::populateSplitKVAttentionPatterns(patterns, kvSplitSize);
    // No folding: the lit tests check the IR exactly as the patterns build it.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
  }
};
} // namespace
