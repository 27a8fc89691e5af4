//===- LowerFP8CastsToNVVM.cpp - E4M3 casts as NVVM cvt instructions ------===//
//
// Neither convert-gpu-to-nvvm nor convert-arith-to-llvm lowers arith casts
// from or to f8E4M3FN: they survive as unrealized casts and translation
// fails. sm_89+ converts E4M3 in hardware, two values per instruction; this
// correct-first lowering converts one value per instruction and leaves the
// other lane unused.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3LOWERFP8CASTSTONVVM
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Converts a scalar float to `to` with an extf or truncf (none if equal).
Value castFloat(PatternRewriter &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

/// truncf x -> f8E4M3FN  ==>  cvt.rn.satfinite.e4m3x2.f32 d, 0.0, x; low byte.
struct TruncFToE4M3 : OpRewritePattern<arith::TruncFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::TruncFOp op,
                                PatternRewriter &rewriter) const override {
    Type dst = op.getType();
    if (!isa<Float8E4M3FNType>(dst))
      return rewriter.notifyMatchFailure(op, "not a scalar cast to E4M3");
    // The cvt rounds to nearest even; other modes are not available for it.
    if (op.getRoundingmodeAttr() &&
        op.getRoundingmode() != arith::RoundingMode::to_nearest_even)
      return rewriter.notifyMatchFailure(op, "only to_nearest_even");
    // Wider sources would round twice.
    if (op.getIn().getType().getIntOrFloatBitWidth() > 32)
      return rewriter.notifyMatchFailure(op, "source wider than f32");
    Location loc = op.getLoc();
    // f16/bf16 -> f32 is exact, so rounding once from f32 is the same
    // rounding as from the narrower type.
    Value x = castFloat(rewriter, loc, op.getIn(), rewriter.getF32Type());
    Value zero = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getF32FloatAttr(0.0f));
    // PTX packs operand a into bits 15:8 and operand b into bits 7:0 of the
    // i16 result; the value goes in b so that truncating to i8 keeps it.
    Value packed = NVVM::ConvertF32x2ToF8x2Op::create(
        rewriter, loc, rewriter.getI16Type(), /*a=*/zero, /*b=*/x,
        NVVM::FPRoundingMode::RN, NVVM::SaturationMode::SATFINITE,
        /*relu=*/false, dst);
    Value byte =
        arith::TruncIOp::create(rewriter, loc, rewriter.getI8Type(), packed);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, dst, byte);
    return success();
  }
};

/// extf f8E4M3FN -> T  ==>  cvt.rn.f16x2.e4m3x2 of the byte in both lanes,
/// lane 0, then f16 -> T (exact: every E4M3 value is an f16, bf16 and f32).
struct ExtFFromE4M3 : OpRewritePattern<arith::ExtFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::ExtFOp op,
                                PatternRewriter &rewriter) const override {
    Type src = op.getIn().getType();
    if (!isa<Float8E4M3FNType>(src))
      return rewriter.notifyMatchFailure(op, "not a scalar cast from E4M3");
    Location loc = op.getLoc();
    Type i8 = rewriter.getI8Type();
    Value byte = arith::BitcastOp::create(rewriter, loc, i8, op.getIn());
    // Broadcasting makes the result independent of which byte feeds which
    // f16 lane.
    Value pair = vector::BroadcastOp::create(rewriter, loc,
                                             VectorType::get({2}, i8), byte);
    Value halves = NVVM::ConvertF8x2ToF16x2Op::create(
        rewriter, loc, VectorType::get({2}, rewriter.getF16Type()), pair,
        /*relu=*/rewriter.getBoolAttr(false), TypeAttr::get(src));
    Value h = vector::ExtractOp::create(rewriter, loc, halves, int64_t(0));
    Type dst = op.getType();
    if (!dst.isF16() && !dst.isF32()) // bf16 (f16 -> bf16 is not an extf)
      h = castFloat(rewriter, loc, h, rewriter.getF32Type());
    rewriter.replaceOp(op, castFloat(rewriter, loc, h, dst));
    return success();
  }
};

/// extf vector<N x f8E4M3FN>  ==>  N scalar extfs (the pattern above) and
/// vector.from_elements. One conversion per value, like the scalar form:
/// converting pairs would need the byte -> half lane order of
/// cvt.rn.f16x2.e4m3x2, which no device run has confirmed yet.
struct UnrollVectorExtFFromE4M3 : OpRewritePattern<arith::ExtFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::ExtFOp op,
                                PatternRewriter &rewriter) const override {
    auto src = dyn_cast<VectorType>(op.getIn().getType());
    if (!src || src.getRank() != 1 || src.isScalable() ||
        !isa<Float8E4M3FNType>(src.getElementType()))
      return rewriter.notifyMatchFailure(op, "not a 1-D vector from E4M3");
    auto dst = cast<VectorType>(op.getType());
    Location loc = op.getLoc();
    SmallVector<Value> elems;
    for (int64_t i = 0; i < src.getNumElements(); ++i) {
      Value elem = vector::ExtractOp::create(rewriter, loc, op.getIn(), i);
      elems.push_back(
          arith::ExtFOp::create(rewriter, loc, dst.getElementType(), elem));
    }
    rewriter.replaceOpWithNewOp<vector::FromElementsOp>(op, dst, elems);
    return success();
  }
};

struct Dsv3LowerFP8CastsToNVVMPass
    : dsv3::impl::Dsv3LowerFP8CastsToNVVMBase<Dsv3LowerFP8CastsToNVVMPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<TruncFToE4M3, ExtFFromE4M3, UnrollVectorExtFFromE4M3>(
        &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
