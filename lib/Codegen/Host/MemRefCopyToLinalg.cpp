//===- MemRefCopyToLinalg.cpp - keep modules free of memrefCopy -----------===//
#include "dsv3/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3MEMREFCOPYTOLINALG
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
struct CopyToLinalg : OpRewritePattern<memref::CopyOp> {
  CopyToLinalg(MLIRContext *ctx, bool keepContiguous)
      : OpRewritePattern(ctx), keepContiguous(keepContiguous) {}
  bool keepContiguous;

  LogicalResult matchAndRewrite(memref::CopyOp op,
                                PatternRewriter &rewriter) const override {
    // On host, identity layouts on both sides lower to llvm.memcpy, which
    // needs no runtime library and keeps a function free of loops (an
    // imported model's entries stay one block of calls,
    // dsv3-mark-glue-functions). On cuda the copy must become a kernel.
    auto contiguous = [](Value v) {
      return cast<MemRefType>(v.getType()).getLayout().isIdentity();
    };
    if (keepContiguous && contiguous(op.getSource()) &&
        contiguous(op.getTarget()))
      return failure();
    // Named, unless it already says where it comes from, so that its cuda
    // kernel is `<func>_copy` (dsv3-name-kernels).
    Location loc = op.getLoc();
    if (!isa<NameLoc>(loc))
      loc = NameLoc::get(rewriter.getStringAttr("copy"), loc);
    auto copy = rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                            op.getTarget());
    copy->setLoc(loc);
    return success();
  }
};

struct Dsv3MemRefCopyToLinalgPass
    : dsv3::impl::Dsv3MemRefCopyToLinalgBase<Dsv3MemRefCopyToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<CopyToLinalg>(&getContext(), keepContiguous);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
