//===- LowerCoreOps.cpp - quantize, dequantize, linear, rms_norm ----------===//
//
// The executable definition of the FP8 and dense ops. Each pattern builds a
// handful of linalg.generic ops whose bodies spell out the formulas of
// docs/semantics.md; target strategies (tiling, fusion,
// GPU mapping) take it from there.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::detail;
using utils::IteratorType;

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
            ValueRange{emptyLike(b, loc, blockedShape, elem, view.dynamic)},
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
             ValueRange{emptyLike(b, loc, resultType.getShape(), elem,
                                  dynamicSizes(b, loc, acc))},
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
               inputs,
               ValueRange{zerosF32(b, loc, {m, n},
                                   dynamicSizes(b, loc, op.getInput()))},
               maps,
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
          SmallVector<ReassociationIndices>{{0}, {1, 2}},
          SmallVector<OpFoldResult>{tensor::getMixedSize(b, loc, v, 0),
                                    b.getIndexAttr(kb),
                                    b.getIndexAttr(kQuantBlock)});
    };
    SmallVector<Value> dM = dynamicSizes(b, loc, op.getInput());
    AffineExpr dm, dn, dkb, dki;
    bindDims(ctx, dm, dn, dkb, dki);
    Value partial =
        linalg::GenericOp::create(
            b, loc,
            TypeRange{RankedTensorType::get({m, n, kb}, b.getF32Type())},
            ValueRange{splitK(qa, m), splitK(op.getWeight(), n)},
            ValueRange{zerosF32(b, loc, {m, n, kb}, dM)},
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
               ValueRange{zerosF32(b, loc, {m, n}, dM)},
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
            ValueRange{op.getInput()},
            ValueRange{
                zerosF32(b, loc, rows, dynamicSizes(b, loc, op.getInput()))},
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
            ValueRange{emptyLike(b, loc, yType.getShape(), elem,
                                 dynamicSizes(b, loc, op.getInput()))},
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

} // namespace

void mlir::dsv3::populateCoreOpsLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerQuantize, LowerDequantize, LowerLinear, LowerRMSNorm>(
      patterns.getContext());
}
