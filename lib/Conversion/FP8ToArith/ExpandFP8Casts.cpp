//===- ExpandFP8Casts.cpp - FP8 casts as integer arithmetic ---------------===//
//
// LLVM has no FP8 types; upstream lowers FP8 memrefs to i8 but leaves
// arith.extf / arith.truncf on f8E4M3FN without a host lowering. We expand
// them on the bit patterns with plain arith ops, scalar or vector, so that
// the LLVM backend can vectorize them like any other integer code.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3EXPANDFP8CASTS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Builds ops whose shape (scalar or vector) follows a reference type.
struct ShapedBuilder {
  PatternRewriter &b;
  Location loc;
  VectorType vec; // null for scalars

  Type like(Type elem) const {
    return vec ? Type(VectorType::get(vec.getShape(), elem)) : elem;
  }
  Value i32(int64_t v) const {
    Type t = like(b.getI32Type());
    TypedAttr attr = b.getI32IntegerAttr(v);
    if (vec)
      attr = DenseElementsAttr::get(cast<ShapedType>(t),
                                    APInt(32, v, /*isSigned=*/true));
    return arith::ConstantOp::create(b, loc, t, attr);
  }
  Value f32(float v) const {
    Type t = like(b.getF32Type());
    TypedAttr attr = b.getF32FloatAttr(v);
    if (vec)
      attr = DenseElementsAttr::get(cast<ShapedType>(t), APFloat(v));
    return arith::ConstantOp::create(b, loc, t, attr);
  }
  Value andi(Value a, int64_t m) const {
    return arith::AndIOp::create(b, loc, a, i32(m));
  }
  Value shl(Value a, int64_t s) const {
    return arith::ShLIOp::create(b, loc, a, i32(s));
  }
  Value shr(Value a, int64_t s) const {
    return arith::ShRUIOp::create(b, loc, a, i32(s));
  }
  Value cmp(arith::CmpIPredicate p, Value a, int64_t c) const {
    return arith::CmpIOp::create(b, loc, p, a, i32(c));
  }
  Value select(Value c, Value t, Value f) const {
    return arith::SelectOp::create(b, loc, c, t, f);
  }
  /// Bit pattern of an 8-bit float as i32.
  Value bitsOf8(Value v) const {
    Value i8 = arith::BitcastOp::create(b, loc, like(b.getI8Type()), v);
    return arith::ExtUIOp::create(b, loc, like(b.getI32Type()), i8);
  }
  /// An i32 holding an 8-bit code, as the 8-bit float type `to`.
  Value fromBits8(Value code, Type to) const {
    Value i8 = arith::TruncIOp::create(b, loc, like(b.getI8Type()), code);
    return arith::BitcastOp::create(b, loc, like(to), i8);
  }
  Value asF32(Value bits) const {
    return arith::BitcastOp::create(b, loc, like(b.getF32Type()), bits);
  }
  Value asI32(Value f) const {
    return arith::BitcastOp::create(b, loc, like(b.getI32Type()), f);
  }
};

Type elementOf(Type t) { return getElementTypeOrSelf(t); }

/// Converts a float value of any width to f32 (exact for the widths we see).
Value widenToF32(const ShapedBuilder &sb, Value v) {
  if (elementOf(v.getType()).isF32())
    return v;
  return arith::ExtFOp::create(sb.b, sb.loc, sb.like(sb.b.getF32Type()), v);
}

/// e4m3 -> f32: place sign, exponent and mantissa into an f32 whose exponent
/// bias is off by 120, then multiply by 2^120 (exact, and it also turns the
/// e4m3 subnormals, which land on f32 subnormals, into the right values).
Value e4m3ToF32(const ShapedBuilder &sb, Value v) {
  Value bits = sb.bitsOf8(v);
  Value sign = sb.shl(sb.andi(bits, 0x80), 24);
  Value mag = sb.andi(bits, 0x7f);
  Value f = sb.asF32(arith::OrIOp::create(sb.b, sb.loc, sign, sb.shl(mag, 20)));
  f = arith::MulFOp::create(sb.b, sb.loc, f, sb.f32(0x1p120f));
  Value nan =
      sb.asF32(arith::OrIOp::create(sb.b, sb.loc, sign, sb.i32(0x7fc00000)));
  return sb.select(sb.cmp(arith::CmpIPredicate::eq, mag, 0x7f), nan, f);
}

/// f32 -> e4m3 with round to nearest even; NaN and overflow (|x| rounding
/// above 448, including ±inf) give the NaN code, as APFloat does for a type
/// without infinities.
Value f32ToE4M3(const ShapedBuilder &sb, Value f, Type f8) {
  using P = arith::CmpIPredicate;
  Value bits = sb.asI32(f);
  Value sign = sb.andi(sb.shr(bits, 24), 0x80);
  Value abs = sb.andi(bits, 0x7fffffff);
  // Normal range (|x| >= 2^-6): round the f32 mantissa to 3 bits (RNE) and
  // rebias the exponent from 127 to 7.
  Value lsb = sb.andi(sb.shr(abs, 20), 1);
  Value rounded = arith::AddIOp::create(
      sb.b, sb.loc, abs,
      arith::AddIOp::create(sb.b, sb.loc, sb.i32(0x7ffff), lsb));
  Value normal = arith::SubIOp::create(sb.b, sb.loc, sb.shr(rounded, 20),
                                       sb.i32(120 << 3));
  normal = sb.select(sb.cmp(P::sgt, normal, 0x7e), sb.i32(0x7f), normal);
  // Subnormal range: the code is round_even(|x| · 2^9), exact scaling.
  Value scaled =
      arith::MulFOp::create(sb.b, sb.loc, sb.asF32(abs), sb.f32(0x1p9f));
  Value sub =
      arith::FPToUIOp::create(sb.b, sb.loc, sb.like(sb.b.getI32Type()),
                              math::RoundEvenOp::create(sb.b, sb.loc, scaled));
  Value code = sb.select(sb.cmp(P::ult, abs, 0x3c800000), sub, normal);
  code = sb.select(sb.cmp(P::ugt, abs, 0x7f800000), sb.i32(0x7f), code);
  return sb.fromBits8(arith::OrIOp::create(sb.b, sb.loc, code, sign), f8);
}

/// e8m0 -> f32: 2^(c-127); c = 0 is the f32 subnormal 2^-127; 0xff is NaN.
Value e8m0ToF32(const ShapedBuilder &sb, Value v) {
  using P = arith::CmpIPredicate;
  Value c = sb.bitsOf8(v);
  Value bits = sb.shl(c, 23);
  bits = sb.select(sb.cmp(P::eq, c, 0), sb.i32(0x00400000), bits);
  bits = sb.select(sb.cmp(P::eq, c, 0xff), sb.i32(0x7fc00000), bits);
  return sb.asF32(bits);
}

/// f32 -> e8m0: the nearest power of two (ties to the even code); NaN,
/// infinities and non-positive values give 0xff.
Value f32ToE8M0(const ShapedBuilder &sb, Value f, Type f8) {
  using P = arith::CmpIPredicate;
  Value bits = sb.asI32(f);
  Value exp = sb.andi(sb.shr(bits, 23), 0xff);
  Value mant = sb.andi(bits, 0x7fffff);
  Value above = sb.cmp(P::ugt, mant, 0x400000);
  Value tie = arith::AndIOp::create(sb.b, sb.loc, sb.cmp(P::eq, mant, 0x400000),
                                    sb.cmp(P::ne, sb.andi(exp, 1), 0));
  Value up = arith::OrIOp::create(sb.b, sb.loc, above, tie);
  Value code = arith::AddIOp::create(
      sb.b, sb.loc, exp,
      arith::ExtUIOp::create(sb.b, sb.loc, sb.like(sb.b.getI32Type()), up));
  Value bad = arith::OrIOp::create(sb.b, sb.loc, sb.cmp(P::slt, bits, 1),
                                   sb.cmp(P::sge, exp, 0xff));
  code = sb.select(bad, sb.i32(0xff), code);
  code = sb.select(sb.cmp(P::sgt, code, 0xfe), sb.i32(0xff), code);
  return sb.fromBits8(code, f8);
}

bool isFP8(Type t) {
  return isa<Float8E4M3FNType, Float8E8M0FNUType>(elementOf(t));
}

struct ExpandExtF : OpRewritePattern<arith::ExtFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::ExtFOp op,
                                PatternRewriter &rewriter) const override {
    Type src = elementOf(op.getIn().getType());
    if (!isFP8(src))
      return failure();
    ShapedBuilder sb{rewriter, op.getLoc(),
                     dyn_cast<VectorType>(op.getIn().getType())};
    Value f = isa<Float8E4M3FNType>(src) ? e4m3ToF32(sb, op.getIn())
                                         : e8m0ToF32(sb, op.getIn());
    if (!elementOf(op.getType()).isF32())
      f = arith::TruncFOp::create(rewriter, op.getLoc(), op.getType(), f);
    rewriter.replaceOp(op, f);
    return success();
  }
};

struct ExpandTruncF : OpRewritePattern<arith::TruncFOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(arith::TruncFOp op,
                                PatternRewriter &rewriter) const override {
    Type dst = elementOf(op.getType());
    if (!isFP8(dst))
      return failure();
    if (op.getRoundingmodeAttr() &&
        op.getRoundingmode() != arith::RoundingMode::to_nearest_even)
      return rewriter.notifyMatchFailure(op, "only to_nearest_even");
    ShapedBuilder sb{rewriter, op.getLoc(),
                     dyn_cast<VectorType>(op.getIn().getType())};
    Value f = widenToF32(sb, op.getIn());
    Value r = isa<Float8E4M3FNType>(dst) ? f32ToE4M3(sb, f, dst)
                                         : f32ToE8M0(sb, f, dst);
    rewriter.replaceOp(op, r);
    return success();
  }
};

struct Dsv3ExpandFP8CastsPass
    : dsv3::impl::Dsv3ExpandFP8CastsBase<Dsv3ExpandFP8CastsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandExtF, ExpandTruncF>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
