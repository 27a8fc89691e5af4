//===- LowerToLinalg.cpp - dsv3 ops to linalg on tensors ------------------===//
//
// The executable definition of every dsv3 op. Each pattern builds a handful of
// linalg.generic ops whose bodies spell out the formulas of
// shared/spec/deepseek-v3-semantics.md; target strategies (tiling, fusion,
// GPU mapping) take it from there.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3LOWERTOLINALG
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using utils::IteratorType;

//===----------------------------------------------------------------------===//
// Scalar helpers used inside generic bodies
//===----------------------------------------------------------------------===//

static Value constF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// Converts a float scalar to `to` (extf or truncf; identity when equal).
static Value convertFloat(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

static Value toF32(OpBuilder &b, Location loc, Value v) {
  return convertFloat(b, loc, v, b.getF32Type());
}

/// The saturating E4M3 cast of spec §5.1: clamp to ±448 (NaN propagates
/// through minimumf/maximumf), then round to nearest even.
static Value saturatingCastToE4M3(OpBuilder &b, Location loc, Value f32) {
  Value hi = constF32(b, loc, kFp8E4M3Max);
  Value lo = constF32(b, loc, -kFp8E4M3Max);
  Value c = arith::MinimumFOp::create(b, loc, f32, hi);
  c = arith::MaximumFOp::create(b, loc, c, lo);
  return arith::TruncFOp::create(b, loc, b.getType<Float8E4M3FNType>(), c);
}

/// Rounds a positive f32 scale up to a power of two with exact exponent
/// arithmetic (spec §5.3 DeepGEMM `ceil_to_ue8m0`): exponent field + 1 when
/// any mantissa bit is set. Inf and NaN (exponent 255) pass through.
static Value roundUpToPowerOfTwo(OpBuilder &b, Location loc, Value f32) {
  Type i32 = b.getI32Type();
  auto c = [&](int32_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  };
  Value bits = arith::BitcastOp::create(b, loc, i32, f32);
  Value exp = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c(23)), c(0xff));
  Value mant = arith::AndIOp::create(b, loc, bits, c(0x7fffff));
  Value hasMant =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, mant, c(0));
  Value finite =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, exp, c(0xff));
  Value bump = arith::AndIOp::create(b, loc, hasMant, finite);
  Value newExp = arith::AddIOp::create(
      b, loc, exp, arith::ExtUIOp::create(b, loc, i32, bump));
  Value rounded = arith::BitcastOp::create(
      b, loc, b.getF32Type(), arith::ShLIOp::create(b, loc, newExp, c(23)));
  return arith::SelectOp::create(b, loc, finite, rounded, f32);
}

//===----------------------------------------------------------------------===//
// Block views: pad a tensor to whole blocks and split each dim in two
//===----------------------------------------------------------------------===//

/// A tensor of shape S seen as [S0/b0, b0, S1/b1, b1, ...] after padding every
/// dimension up to a multiple of its block. Padding never changes a block's
/// amax (|0| <= anything, and amax is clamped at 1e-4 anyway) and padded
/// elements are sliced away again by `unblock`.
struct BlockedView {
  Value value;                  // [nb0, b0, nb1, b1, ...]
  SmallVector<int64_t> padded;  // [nb0*b0, nb1*b1, ...]
  SmallVector<int64_t> nblocks; // [nb0, nb1, ...]
};

static SmallVector<ReassociationIndices> pairReassociation(int64_t rank) {
  SmallVector<ReassociationIndices> r;
  for (int64_t i = 0; i < rank; ++i)
    r.push_back({2 * i, 2 * i + 1});
  return r;
}

static BlockedView blockView(OpBuilder &b, Location loc, Value v,
                             ArrayRef<int64_t> block) {
  auto type = cast<RankedTensorType>(v.getType());
  BlockedView view;
  SmallVector<int64_t> expanded;
  SmallVector<OpFoldResult> low, high;
  bool needsPad = false;
  for (auto [dim, blk] : llvm::zip_equal(type.getShape(), block)) {
    int64_t nb = ceilDiv(dim, blk);
    view.nblocks.push_back(nb);
    view.padded.push_back(nb * blk);
    expanded.append({nb, blk});
    low.push_back(b.getIndexAttr(0));
    high.push_back(b.getIndexAttr(nb * blk - dim));
    needsPad |= nb * blk != dim;
  }
  Value padded = v;
  if (needsPad) {
    auto padType = RankedTensorType::get(view.padded, type.getElementType());
    Value zero = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(type.getElementType(), 0.0));
    padded = tensor::PadOp::create(b, loc, padType, v, low, high, zero);
  }
  view.value = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(expanded, type.getElementType()), padded,
      pairReassociation(type.getRank()));
  return view;
}

/// Inverse of blockView for a result computed on the blocked shape.
static Value unblock(OpBuilder &b, Location loc, Value blocked,
                     const BlockedView &view, RankedTensorType resultType) {
  auto elem = cast<RankedTensorType>(blocked.getType()).getElementType();
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(view.padded, elem), blocked,
      pairReassociation(resultType.getRank()));
  if (ArrayRef<int64_t>(view.padded) == resultType.getShape())
    return flat;
  int64_t rank = resultType.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
      strides(rank, b.getIndexAttr(1)), sizes;
  for (int64_t d : resultType.getShape())
    sizes.push_back(b.getIndexAttr(d));
  return tensor::ExtractSliceOp::create(b, loc, resultType, flat, offsets,
                                        sizes, strides);
}

/// Maps (d0, d1, ..., d_{2r-1}) of a blocked iteration space to the block
/// indices (d0, d2, ...).
static AffineMap blockIndexMap(MLIRContext *ctx, int64_t rank) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    exprs.push_back(getAffineDimExpr(2 * i, ctx));
  return AffineMap::get(2 * rank, 0, exprs, ctx);
}

static Value emptyLike(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                       Type elem) {
  return tensor::EmptyOp::create(b, loc, shape, elem);
}

static Value zerosF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape) {
  Value init = emptyLike(b, loc, shape, b.getF32Type());
  return linalg::FillOp::create(b, loc, constF32(b, loc, 0.0f), init)
      .getResult(0);
}

static SmallVector<IteratorType> blockedIterators(int64_t rank,
                                                  IteratorType inner) {
  SmallVector<IteratorType> its;
  for (int64_t i = 0; i < rank; ++i)
    its.append({IteratorType::parallel, inner});
  return its;
}

//===----------------------------------------------------------------------===//
// dsv3.quantize
//===----------------------------------------------------------------------===//

/// Emits the quantization of `x` and returns {q, scale in f32 (used for the
/// division), scale as stored (f32 or f8E8M0FNU)}.
static std::tuple<Value, Value, Value>
buildQuantize(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> block,
              ScaleFormat fmt, RankedTensorType qType, Type storedScaleElem) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t rank = xType.getRank();
  BlockedView view = blockView(b, loc, x, block);
  AffineMap id = b.getMultiDimIdentityMap(2 * rank);
  AffineMap blk = blockIndexMap(ctx, rank);

  // amax over each block. maxnumf ignores NaN: a NaN element does not poison
  // its block's scale and stays NaN through the cast below.
  Value amax =
      linalg::GenericOp::create(
          b, loc,
          TypeRange{RankedTensorType::get(view.nblocks, b.getF32Type())},
          ValueRange{view.value}, ValueRange{zerosF32(b, loc, view.nblocks)},
          ArrayRef<AffineMap>{id, blk},
          blockedIterators(rank, IteratorType::reduction),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value a = math::AbsFOp::create(nb, l, toF32(nb, l, args[0]));
            linalg::YieldOp::create(
                nb, l, ValueRange{arith::MaxNumFOp::create(nb, l, args[1], a)});
          })
          .getResult(0);

  // scale = max(amax, 1e-4) / 448, optionally rounded up to a power of two.
  AffineMap idS = b.getMultiDimIdentityMap(rank);
  SmallVector<IteratorType> par(rank, IteratorType::parallel);
  Value scale =
      linalg::GenericOp::create(
          b, loc, TypeRange{amax.getType()}, ValueRange{amax},
          ValueRange{emptyLike(b, loc, view.nblocks, b.getF32Type())},
          ArrayRef<AffineMap>{idS, idS}, par,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value a = arith::MaxNumFOp::create(nb, l, args[0],
                                               constF32(nb, l, kAmaxFloor));
            Value s =
                arith::DivFOp::create(nb, l, a, constF32(nb, l, kFp8E4M3Max));
            if (fmt == ScaleFormat::ue8m0)
              s = roundUpToPowerOfTwo(nb, l, s);
            linalg::YieldOp::create(nb, l, ValueRange{s});
          })
          .getResult(0);

  // q = e4m3_sat(f32(x) / scale), on the blocked shape, then cropped.
  SmallVector<int64_t> blockedShape(
      cast<RankedTensorType>(view.value.getType()).getShape());
  Type f8 = qType.getElementType();
  Value qBlocked =
      linalg::GenericOp::create(
          b, loc, TypeRange{RankedTensorType::get(blockedShape, f8)},
          ValueRange{view.value, scale},
          ValueRange{emptyLike(b, loc, blockedShape, f8)},
          ArrayRef<AffineMap>{id, blk, id},
          blockedIterators(rank, IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value v =
                arith::DivFOp::create(nb, l, toF32(nb, l, args[0]), args[1]);
            linalg::YieldOp::create(nb, l,
                                    ValueRange{saturatingCastToE4M3(nb, l, v)});
          })
          .getResult(0);
  Value q = unblock(b, loc, qBlocked, view, qType);

  Value stored = scale;
  if (storedScaleElem != b.getF32Type()) {
    stored =
        linalg::GenericOp::create(
            b, loc,
            TypeRange{RankedTensorType::get(view.nblocks, storedScaleElem)},
            ValueRange{scale},
            ValueRange{emptyLike(b, loc, view.nblocks, storedScaleElem)},
            ArrayRef<AffineMap>{idS, idS}, par,
            [&](OpBuilder &nb, Location l, ValueRange args) {
              linalg::YieldOp::create(nb, l,
                                      ValueRange{arith::TruncFOp::create(
                                          nb, l, storedScaleElem, args[0])});
            })
            .getResult(0);
  }
  return {q, scale, stored};
}

namespace {
struct LowerQuantize : OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QuantizeOp op,
                                PatternRewriter &rewriter) const override {
    auto [q, scaleF32, stored] = buildQuantize(
        rewriter, op.getLoc(), op.getInput(), op.getBlock(), op.getScaleFmt(),
        op.getOutput().getType(), op.getScale().getType().getElementType());
    (void)scaleF32;
    rewriter.replaceOp(op, {q, stored});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// dsv3.dequantize
//===----------------------------------------------------------------------===//

struct LowerDequantize : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto outType = op.getOutput().getType();
    int64_t rank = outType.getRank();
    BlockedView view = blockView(b, loc, op.getInput(), op.getBlock());
    SmallVector<int64_t> blockedShape(
        cast<RankedTensorType>(view.value.getType()).getShape());
    AffineMap id = b.getMultiDimIdentityMap(2 * rank);
    Type elem = outType.getElementType();
    Value blocked =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(blockedShape, elem)},
            ValueRange{view.value, op.getScale()},
            ValueRange{emptyLike(b, loc, blockedShape, elem)},
            ArrayRef<AffineMap>{id, blockIndexMap(b.getContext(), rank), id},
            blockedIterators(rank, IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value v = arith::MulFOp::create(nb, l, toF32(nb, l, args[0]),
                                              toF32(nb, l, args[1]));
              linalg::YieldOp::create(nb, l,
                                      ValueRange{convertFloat(nb, l, v, elem)});
            })
            .getResult(0);
    rewriter.replaceOp(op, unblock(b, loc, blocked, view, outType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// dsv3.linear
//===----------------------------------------------------------------------===//

/// Rounds an f32 [M, N] accumulator to the result type.
static Value castResult(OpBuilder &b, Location loc, Value acc,
                        RankedTensorType resultType) {
  if (resultType.getElementType() == b.getF32Type())
    return acc;
  AffineMap id = b.getMultiDimIdentityMap(2);
  Type elem = resultType.getElementType();
  return linalg::GenericOp::create(
             b, loc, TypeRange{resultType}, ValueRange{acc},
             ValueRange{emptyLike(b, loc, resultType.getShape(), elem)},
             ArrayRef<AffineMap>{id, id},
             SmallVector<IteratorType>(2, IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l, ValueRange{convertFloat(nb, l, args[0], elem)});
             })
      .getResult(0);
}

struct LowerLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto resultType = op.getResult().getType();
    Value acc = op.getActQuant() == ActivationQuant::none
                    ? buildWeightOnly(b, loc, op)
                    : buildActivationQuantized(b, loc, op);
    rewriter.replaceOp(op, castResult(b, loc, acc, resultType));
    return success();
  }

  /// y[m, n] = Σ_k f32(x[m, k]) · w[n, k], where an FP8 weight element is
  /// dequantized in f32 as f32(q[n, k]) · s[n / 128, k / 128].
  static Value buildWeightOnly(OpBuilder &b, Location loc, LinearOp op) {
    MLIRContext *ctx = b.getContext();
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    int64_t m = xType.getDimSize(0), n = wType.getDimSize(0);
    AffineExpr dm, dn, dk;
    bindDims(ctx, dm, dn, dk);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {dm, dk}, ctx),
                                   AffineMap::get(3, 0, {dn, dk}, ctx)};
    SmallVector<Value> inputs = {op.getInput(), op.getWeight()};
    if (Value s = op.getWeightScaleInv()) {
      inputs.push_back(s);
      maps.push_back(AffineMap::get(
          3, 0, {dn.floorDiv(kQuantBlock), dk.floorDiv(kQuantBlock)}, ctx));
    }
    maps.push_back(AffineMap::get(3, 0, {dm, dn}, ctx));
    bool scaled = inputs.size() == 3;
    return linalg::GenericOp::create(
               b, loc, TypeRange{RankedTensorType::get({m, n}, b.getF32Type())},
               inputs, ValueRange{zerosF32(b, loc, {m, n})}, maps,
               {IteratorType::parallel, IteratorType::parallel,
                IteratorType::reduction},
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value w = toF32(nb, l, args[1]);
                 if (scaled)
                   w = arith::MulFOp::create(nb, l, w, toF32(nb, l, args[2]));
                 Value p =
                     arith::MulFOp::create(nb, l, toF32(nb, l, args[0]), w);
                 linalg::YieldOp::create(
                     nb, l,
                     ValueRange{arith::AddFOp::create(nb, l, args.back(), p)});
               })
        .getResult(0);
  }

  /// DeepSeek's fp8_gemm: x quantized per 1x128 tile, f32 partial sums per
  /// 128-wide K block, then acc += (partial · sa) · sb.
  static Value buildActivationQuantized(OpBuilder &b, Location loc,
                                        LinearOp op) {
    MLIRContext *ctx = b.getContext();
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    int64_t m = xType.getDimSize(0), k = xType.getDimSize(1);
    int64_t n = wType.getDimSize(0), kb = k / kQuantBlock;
    ScaleFormat fmt = op.getActQuant() == ActivationQuant::fp8_1x128_ue8m0
                          ? ScaleFormat::ue8m0
                          : ScaleFormat::f32;
    auto qaType = RankedTensorType::get({m, k}, b.getType<Float8E4M3FNType>());
    auto [qa, sa, storedSa] = buildQuantize(
        b, loc, op.getInput(), {1, kQuantBlock}, fmt, qaType, b.getF32Type());
    (void)storedSa;

    // partial[m, n, kb] = Σ_ki f32(qa[m, kb, ki]) · f32(q[n, kb, ki]), on
    // [*, K/128, 128] views of both operands (reshapes, no copies).
    auto splitK = [&](Value v, int64_t rows) {
      auto t = cast<RankedTensorType>(v.getType());
      return tensor::ExpandShapeOp::create(
          b, loc,
          RankedTensorType::get({rows, kb, kQuantBlock}, t.getElementType()), v,
          SmallVector<ReassociationIndices>{{0}, {1, 2}});
    };
    AffineExpr dm, dn, dkb, dki;
    bindDims(ctx, dm, dn, dkb, dki);
    Value partial =
        linalg::GenericOp::create(
            b, loc,
            TypeRange{RankedTensorType::get({m, n, kb}, b.getF32Type())},
            ValueRange{splitK(qa, m), splitK(op.getWeight(), n)},
            ValueRange{zerosF32(b, loc, {m, n, kb})},
            ArrayRef<AffineMap>{AffineMap::get(4, 0, {dm, dkb, dki}, ctx),
                                AffineMap::get(4, 0, {dn, dkb, dki}, ctx),
                                AffineMap::get(4, 0, {dm, dn, dkb}, ctx)},
            {IteratorType::parallel, IteratorType::parallel,
             IteratorType::parallel, IteratorType::reduction},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value p = arith::MulFOp::create(nb, l, toF32(nb, l, args[0]),
                                              toF32(nb, l, args[1]));
              linalg::YieldOp::create(
                  nb, l, ValueRange{arith::AddFOp::create(nb, l, args[2], p)});
            })
            .getResult(0);

    // y[m, n] = Σ_kb (partial · sa[m, kb]) · sb[n / 128, kb]
    AffineExpr em, en, ekb;
    bindDims(ctx, em, en, ekb);
    return linalg::GenericOp::create(
               b, loc, TypeRange{RankedTensorType::get({m, n}, b.getF32Type())},
               ValueRange{partial, sa, op.getWeightScaleInv()},
               ValueRange{zerosF32(b, loc, {m, n})},
               ArrayRef<AffineMap>{
                   AffineMap::get(3, 0, {em, en, ekb}, ctx),
                   AffineMap::get(3, 0, {em, ekb}, ctx),
                   AffineMap::get(3, 0, {en.floorDiv(kQuantBlock), ekb}, ctx),
                   AffineMap::get(3, 0, {em, en}, ctx)},
               {IteratorType::parallel, IteratorType::parallel,
                IteratorType::reduction},
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value v = arith::MulFOp::create(nb, l, args[0], args[1]);
                 v = arith::MulFOp::create(nb, l, v, toF32(nb, l, args[2]));
                 linalg::YieldOp::create(
                     nb, l,
                     ValueRange{arith::AddFOp::create(nb, l, args[3], v)});
               })
        .getResult(0);
  }
};

//===----------------------------------------------------------------------===//
// dsv3.rms_norm
//===----------------------------------------------------------------------===//

struct LowerRMSNorm : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    auto xType = op.getInput().getType();
    auto yType = op.getResult().getType();
    int64_t rank = xType.getRank();
    int64_t d = xType.getShape().back();
    ArrayRef<int64_t> rows = xType.getShape().drop_back();

    AffineMap id = b.getMultiDimIdentityMap(rank);
    AffineMap rowMap = id.dropResult(rank - 1);
    AffineMap lastMap =
        AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx), ctx);
    SmallVector<IteratorType> reduce(rank, IteratorType::parallel);
    reduce.back() = IteratorType::reduction;

    // Σ_j f32(x_j)² per row.
    Value sumSq =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(rows, b.getF32Type())},
            ValueRange{op.getInput()}, ValueRange{zerosF32(b, loc, rows)},
            ArrayRef<AffineMap>{id, rowMap}, reduce,
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value x = toF32(nb, l, args[0]);
              Value sq = arith::MulFOp::create(nb, l, x, x);
              linalg::YieldOp::create(
                  nb, l, ValueRange{arith::AddFOp::create(nb, l, args[1], sq)});
            })
            .getResult(0);

    // y = cast((f32(x) · rsqrt(Σ/d + eps)) · f32(w)).
    float eps = op.getEpsilon().convertToFloat();
    Type elem = yType.getElementType();
    Value y =
        linalg::GenericOp::create(
            b, loc, TypeRange{yType},
            ValueRange{op.getInput(), sumSq, op.getWeight()},
            ValueRange{emptyLike(b, loc, yType.getShape(), elem)},
            ArrayRef<AffineMap>{id, rowMap, lastMap, id},
            SmallVector<IteratorType>(rank, IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value mean = arith::DivFOp::create(nb, l, args[1],
                                                 constF32(nb, l, float(d)));
              Value r = math::RsqrtOp::create(
                  nb, l,
                  arith::AddFOp::create(nb, l, mean, constF32(nb, l, eps)));
              Value v = arith::MulFOp::create(nb, l, toF32(nb, l, args[0]), r);
              v = arith::MulFOp::create(nb, l, v, toF32(nb, l, args[2]));
              linalg::YieldOp::create(nb, l,
                                      ValueRange{convertFloat(nb, l, v, elem)});
            })
            .getResult(0);
    rewriter.replaceOp(op, y);
    return success();
  }
};

struct Dsv3LowerToLinalgPass
    : dsv3::impl::Dsv3LowerToLinalgBase<Dsv3LowerToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerQuantize, LowerDequantize, LowerLinear, LowerRMSNorm>(
        &getContext());
    // No folding: the lit tests check the IR exactly as the patterns build it.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
  }
};
} // namespace
