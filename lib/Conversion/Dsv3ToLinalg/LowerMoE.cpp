//===- LowerMoE.cpp - router, bias update, dispatch, GEMM, combine --------===//
//
// The router is lowered to linalg.generic ops only, with no sequential loop
// and no data-dependent indexing: top-k selection is expressed through ranks
// (rank of expert e = number of experts that beat it under the total order
// "higher score, then lower index"), and the expert of slot j is the one
// whose rank is j. That order is exactly the tie rule of dsv3.moe_gate, is
// independent of how a target schedules the loops, and maps to one GPU
// thread per (token, expert) like every other generic. Its O(E²) comparisons
// per token are small next to the gate GEMM's E·H multiply-adds.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::detail;
using utils::IteratorType;

namespace {
using BodyFn = function_ref<void(OpBuilder &, Location, ValueRange)>;

/// A linalg.generic over the given maps and iterators, returning its results.
SmallVector<Value> generic(OpBuilder &b, Location loc, ValueRange inputs,
                           ValueRange inits, ArrayRef<AffineMap> maps,
                           ArrayRef<IteratorType> iterators, BodyFn body) {
  return linalg::GenericOp::create(b, loc, ValueRange(inits).getTypes(), inputs,
                                   inits, maps, iterators, body)
      ->getResults();
}

Value filled(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
             TypedAttr value, ValueRange dynamic = {}) {
  Value init = emptyLike(b, loc, shape, value.getType(), dynamic);
  Value c = arith::ConstantOp::create(b, loc, value);
  return linalg::FillOp::create(b, loc, c, init).getResult(0);
}

Value negInfF32(OpBuilder &b, Location loc) {
  return constF32(b, loc, -std::numeric_limits<float>::infinity());
}

Value indexAsI64(OpBuilder &b, Location loc, int64_t dim) {
  return arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                    linalg::IndexOp::create(b, loc, dim));
}

/// ranks[t, i] = #{i' : v[t, i'] > v[t, i] or (== and i' < i)} over the last
/// dimension of v [T, N]: the position of i when sorting by descending value
/// with ties toward the lower index. A permutation of 0..N-1 per row for
/// non-NaN values (−inf included).
Value descendingRanks(OpBuilder &b, Location loc, Value v) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(v.getType());
  int64_t t = type.getDimSize(0), n = type.getDimSize(1);
  AffineExpr dt, di, dj;
  bindDims(ctx, dt, di, dj);
  return generic(
      b, loc, ValueRange{v, v},
      ValueRange{filled(b, loc, {t, n}, b.getI32IntegerAttr(0),
                        dynamicSizes(b, loc, v))},
      {AffineMap::get(3, 0, {dt, di}, ctx), AffineMap::get(3, 0, {dt, dj}, ctx),
       AffineMap::get(3, 0, {dt, di}, ctx)},
      {IteratorType::parallel, IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value mine = args[0], other = args[1];
        Value i = linalg::IndexOp::create(nb, l, 1);
        Value j = linalg::IndexOp::create(nb, l, 2);
        Value greater = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                              other, mine);
        Value equal = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                            other, mine);
        Value lower =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, j, i);
        Value beats = arith::OrIOp::create(
            nb, l, greater, arith::AndIOp::create(nb, l, equal, lower));
        Value one = arith::ExtUIOp::create(nb, l, nb.getI32Type(), beats);
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddIOp::create(nb, l, args[2], one)});
      })[0];
}

//===----------------------------------------------------------------------===//
// dsv3.moe_gate
//===----------------------------------------------------------------------===//

struct LowerMoEGate : OpRewritePattern<MoEGateOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoEGateOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    int64_t t = op.getInput().getType().getDimSize(0);
    Value weight = op.getWeight();
    // Without a weight the input is the logits [T, E].
    int64_t e = weight ? cast<RankedTensorType>(weight.getType()).getDimSize(0)
                       : op.getInput().getType().getDimSize(1);
    int64_t k = static_cast<int64_t>(op.getTopK());
    // The token count, when dynamic: every [T, ...] below has it.
    SmallVector<Value> dT = dynamicSizes(b, loc, op.getInput());
    AffineMap id2 = b.getMultiDimIdentityMap(2);
    SmallVector<IteratorType> par2(2, IteratorType::parallel);
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);
    auto map3 = [&](ArrayRef<AffineExpr> r) {
      return AffineMap::get(3, 0, r, ctx);
    };
    SmallVector<IteratorType> parParRed = {IteratorType::parallel,
                                           IteratorType::parallel,
                                           IteratorType::reduction};

    // u[t, e] = Σ_h f32(x[t, h]) · f32(W[e, h]).
    Value logits = op.getInput();
    if (weight)
      logits = generic(
          b, loc, ValueRange{op.getInput(), weight},
          ValueRange{zerosF32(b, loc, {t, e}, dT)},
          {map3({d0, d2}), map3({d1, d2}), map3({d0, d1})}, parParRed,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value p = arith::MulFOp::create(nb, l, toF32(nb, l, args[0]),
                                            toF32(nb, l, args[1]));
            linalg::YieldOp::create(
                nb, l, ValueRange{arith::AddFOp::create(nb, l, args[2], p)});
          })[0];

    Value scores = op.getScoringFunc() == ScoringFunc::sigmoid
                       ? buildSigmoid(b, loc, logits)
                       : buildSoftmax(b, loc, logits);

    // Selection scores: the bias only steers the choice of experts.
    Value sel = scores;
    if (Value bias = op.getEScoreCorrectionBias())
      sel = generic(b, loc, ValueRange{scores, bias},
                    ValueRange{emptyLike(b, loc, {t, e}, b.getF32Type(), dT)},
                    {id2, AffineMap::get(2, 0, {d1}, ctx), id2}, par2,
                    [&](OpBuilder &nb, Location l, ValueRange args) {
                      linalg::YieldOp::create(nb, l,
                                              ValueRange{arith::AddFOp::create(
                                                  nb, l, args[0], args[1])});
                    })[0];

    int64_t groups = static_cast<int64_t>(op.getNGroup());
    int64_t kept = static_cast<int64_t>(op.getTopkGroup());
    if (op.getTopkMethod() != TopkMethod::greedy && kept < groups)
      sel = maskRejectedGroups(b, loc, op, sel, groups, kept);

    // Slot j of token t takes the expert of rank j, with its unbiased score.
    Value ranks = descendingRanks(b, loc, sel);
    SmallVector<Value> picked = generic(
        b, loc, ValueRange{ranks, scores},
        ValueRange{filled(b, loc, {t, k}, b.getI32IntegerAttr(0), dT),
                   zerosF32(b, loc, {t, k}, dT)},
        {map3({d0, d2}), map3({d0, d2}), map3({d0, d1}), map3({d0, d1})},
        parParRed, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value j = arith::IndexCastOp::create(
              nb, l, nb.getI32Type(), linalg::IndexOp::create(nb, l, 1));
          Value ex = arith::IndexCastOp::create(
              nb, l, nb.getI32Type(), linalg::IndexOp::create(nb, l, 2));
          Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                            args[0], j);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{
                  arith::SelectOp::create(nb, l, hit, ex, args[2]),
                  arith::SelectOp::create(nb, l, hit, args[1], args[3])});
        });
    Value ids = picked[0], weights = picked[1];

    // w = w / (Σ_j w + 1e-20) when renormalising, then · factor, always.
    float factor = op.getRoutedScalingFactor().convertToFloat();
    SmallVector<Value> inputs = {weights};
    SmallVector<AffineMap> maps = {id2};
    if (op.getNormTopkProb()) {
      Value sum = generic(
          b, loc, ValueRange{weights}, ValueRange{zerosF32(b, loc, {t}, dT)},
          {id2, AffineMap::get(2, 0, {d0}, ctx)},
          {IteratorType::parallel, IteratorType::reduction},
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::AddFOp::create(nb, l, args[1], args[0])});
          })[0];
      inputs.push_back(sum);
      maps.push_back(AffineMap::get(2, 0, {d0}, ctx));
    }
    maps.push_back(id2);
    bool norm = inputs.size() == 2;
    weights =
        generic(b, loc, inputs,
                ValueRange{emptyLike(b, loc, {t, k}, b.getF32Type(), dT)}, maps,
                par2, [&](OpBuilder &nb, Location l, ValueRange args) {
                  Value w = args[0];
                  if (norm) {
                    Value den = arith::AddFOp::create(nb, l, args[1],
                                                      constF32(nb, l, 1e-20f));
                    w = arith::DivFOp::create(nb, l, w, den);
                  }
                  w = arith::MulFOp::create(nb, l, w, constF32(nb, l, factor));
                  linalg::YieldOp::create(nb, l, ValueRange{w});
                })[0];
    rewriter.replaceOp(op, {weights, ids});
    return success();
  }

  /// s = 1 / (1 + exp(-u)).
  static Value buildSigmoid(OpBuilder &b, Location loc, Value u) {
    auto type = cast<RankedTensorType>(u.getType());
    AffineMap id = b.getMultiDimIdentityMap(2);
    return generic(
        b, loc, ValueRange{u},
        ValueRange{emptyLike(b, loc, type.getShape(), b.getF32Type(),
                             dynamicSizes(b, loc, u))},
        {id, id}, {IteratorType::parallel, IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value ex =
              math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, args[0]));
          Value den = arith::AddFOp::create(nb, l, constF32(nb, l, 1.0f), ex);
          linalg::YieldOp::create(nb, l,
                                  ValueRange{arith::DivFOp::create(
                                      nb, l, constF32(nb, l, 1.0f), den)});
        })[0];
  }

  /// s = exp(u - max u) / Σ exp(u - max u) over experts.
  static Value buildSoftmax(OpBuilder &b, Location loc, Value u) {
    MLIRContext *ctx = b.getContext();
    auto type = cast<RankedTensorType>(u.getType());
    int64_t t = type.getDimSize(0);
    AffineMap id = b.getMultiDimIdentityMap(2);
    AffineMap row = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
    SmallVector<IteratorType> red = {IteratorType::parallel,
                                     IteratorType::reduction};
    SmallVector<Value> dT = dynamicSizes(b, loc, u);
    Value init = emptyLike(b, loc, {t}, b.getF32Type(), dT);
    Value mx = generic(
        b, loc, ValueRange{u},
        ValueRange{linalg::FillOp::create(b, loc, negInfF32(b, loc), init)
                       .getResult(0)},
        {id, row}, red, [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::MaxNumFOp::create(nb, l, args[1], args[0])});
        })[0];
    auto shifted = [](OpBuilder &nb, Location l, Value v, Value m) {
      return math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, v, m));
    };
    Value sum = generic(
        b, loc, ValueRange{u, mx}, ValueRange{zerosF32(b, loc, {t}, dT)},
        {id, row, row}, red, [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::AddFOp::create(
                  nb, l, args[2], shifted(nb, l, args[0], args[1]))});
        })[0];
    return generic(
        b, loc, ValueRange{u, mx, sum},
        ValueRange{emptyLike(b, loc, type.getShape(), b.getF32Type(), dT)},
        {id, row, row, id}, {IteratorType::parallel, IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::DivFOp::create(
                  nb, l, shifted(nb, l, args[0], args[1]), args[2])});
        })[0];
  }

  /// Scores each group (sum of its 2 best, or its best selection score),
  /// keeps the `kept` best groups and sets every other expert to −inf.
  static Value maskRejectedGroups(OpBuilder &b, Location loc, MoEGateOp op,
                                  Value sel, int64_t groups, int64_t kept) {
    MLIRContext *ctx = b.getContext();
    auto type = cast<RankedTensorType>(sel.getType());
    int64_t t = type.getDimSize(0), e = type.getDimSize(1);
    int64_t per = e / groups;
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);
    SmallVector<Value> dT = dynamicSizes(b, loc, sel);
    Value grouped = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({t, groups, per}, b.getF32Type()), sel,
        SmallVector<ReassociationIndices>{{0}, {1, 2}},
        SmallVector<OpFoldResult>{tensor::getMixedSize(b, loc, sel, 0),
                                  b.getIndexAttr(groups), b.getIndexAttr(per)});
    auto negInf = [&] {
      Value init = emptyLike(b, loc, {t, groups}, b.getF32Type(), dT);
      return linalg::FillOp::create(b, loc, negInfF32(b, loc), init)
          .getResult(0);
    };
    AffineMap in = b.getMultiDimIdentityMap(3);
    AffineMap out = AffineMap::get(3, 0, {d0, d1}, ctx);
    SmallVector<IteratorType> its = {IteratorType::parallel,
                                     IteratorType::parallel,
                                     IteratorType::reduction};
    Value groupScore;
    if (op.getTopkMethod() == TopkMethod::noaux_tc) {
      // Running (best, second best); the sum of both once all are seen.
      SmallVector<Value> best2 = generic(
          b, loc, ValueRange{grouped}, ValueRange{negInf(), negInf()},
          {in, out, out}, its, [&](OpBuilder &nb, Location l, ValueRange args) {
            Value v = args[0], m1 = args[1], m2 = args[2];
            Value n1 = arith::MaxNumFOp::create(nb, l, m1, v);
            Value n2 = arith::MaxNumFOp::create(
                nb, l, m2, arith::MinNumFOp::create(nb, l, m1, v));
            linalg::YieldOp::create(nb, l, ValueRange{n1, n2});
          });
      AffineMap id2 = b.getMultiDimIdentityMap(2);
      groupScore = generic(
          b, loc, best2,
          ValueRange{emptyLike(b, loc, {t, groups}, b.getF32Type(), dT)},
          {id2, id2, id2}, {IteratorType::parallel, IteratorType::parallel},
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::AddFOp::create(nb, l, args[0], args[1])});
          })[0];
    } else {
      groupScore = generic(
          b, loc, ValueRange{grouped}, ValueRange{negInf()}, {in, out}, its,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::MaxNumFOp::create(nb, l, args[1], args[0])});
          })[0];
    }
    Value groupRank = descendingRanks(b, loc, groupScore);
    AffineMap id2 = b.getMultiDimIdentityMap(2);
    AffineExpr e0, e1;
    bindDims(ctx, e0, e1);
    return generic(
        b, loc, ValueRange{sel, groupRank},
        ValueRange{emptyLike(b, loc, {t, e}, b.getF32Type(), dT)},
        {id2, AffineMap::get(2, 0, {e0, e1.floorDiv(per)}, ctx), id2},
        {IteratorType::parallel, IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value keep = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::slt, args[1],
              arith::ConstantOp::create(nb, l, nb.getI32IntegerAttr(kept)));
          linalg::YieldOp::create(nb, l,
                                  ValueRange{arith::SelectOp::create(
                                      nb, l, keep, args[0], negInfF32(nb, l))});
        })[0];
  }
};

//===----------------------------------------------------------------------===//
// dsv3.expert_bias_update
//===----------------------------------------------------------------------===//

struct LowerExpertBiasUpdate : OpRewritePattern<ExpertBiasUpdateOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertBiasUpdateOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    auto idsType = op.getIds().getType();
    int64_t t = idsType.getDimSize(0), k = idsType.getDimSize(1);
    int64_t e = op.getBias().getType().getDimSize(0);
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);

    // c[e] = #{(t, j) : ids[t, j] == e}, in i64.
    Value counts = generic(
        b, loc, ValueRange{op.getIds()},
        ValueRange{filled(b, loc, {e}, b.getI64IntegerAttr(0))},
        {AffineMap::get(3, 0, {d1, d2}, ctx), AffineMap::get(3, 0, {d0}, ctx)},
        {IteratorType::parallel, IteratorType::reduction,
         IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value id = arith::ExtSIOp::create(nb, l, nb.getI64Type(), args[0]);
          Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, id,
                                            indexAsI64(nb, l, 0));
          Value one = arith::ExtUIOp::create(nb, l, nb.getI64Type(), hit);
          linalg::YieldOp::create(
              nb, l, ValueRange{arith::AddIOp::create(nb, l, args[1], one)});
        })[0];

    // sign(c̄ - c) = sign(K·T - E·c), exact in integers.
    float gamma = op.getGamma().convertToFloat();
    AffineMap id1 = b.getMultiDimIdentityMap(1);
    Value result = generic(
        b, loc, ValueRange{op.getBias(), counts},
        ValueRange{emptyLike(b, loc, {e}, b.getF32Type())}, {id1, id1, id1},
        {IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          auto i64 = [&](int64_t v) {
            return arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(v));
          };
          Value diff = arith::SubIOp::create(
              nb, l, i64(k * t), arith::MulIOp::create(nb, l, i64(e), args[1]));
          Value under = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sgt,
                                              diff, i64(0));
          Value over = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                             diff, i64(0));
          Value up =
              arith::AddFOp::create(nb, l, args[0], constF32(nb, l, gamma));
          Value down =
              arith::SubFOp::create(nb, l, args[0], constF32(nb, l, gamma));
          Value v = arith::SelectOp::create(
              nb, l, under, up,
              arith::SelectOp::create(nb, l, over, down, args[0]));
          linalg::YieldOp::create(nb, l, ValueRange{v});
        })[0];
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// dsv3.expert_dispatch, dsv3.grouped_matmul, dsv3.expert_combine
//
// The permutation is again written with counts and ranks instead of a
// sequential scan, so that it is deterministic and data-race free on every
// target at the price of O((T·K)²) integer comparisons; rows are then moved
// with one gather (tensor.extract in a parallel generic) per element.
//===----------------------------------------------------------------------===//

Value constI64(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
}

Value toIndex(OpBuilder &b, Location loc, Value i64) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), i64);
}

/// ids [T, K] as the flat pair list [T·K], widened to i64.
Value flatPairs(OpBuilder &b, Location loc, Value ids) {
  auto type = cast<RankedTensorType>(ids.getType());
  int64_t p = type.isDynamicDim(0) ? ShapedType::kDynamic
                                   : type.getDimSize(0) * type.getDimSize(1);
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({p}, type.getElementType()), ids,
      SmallVector<ReassociationIndices>{{0, 1}});
  AffineMap id = b.getMultiDimIdentityMap(1);
  return generic(b, loc, ValueRange{flat},
                 ValueRange{emptyLike(b, loc, {p}, b.getI64Type(),
                                      dynamicSizes(b, loc, flat))},
                 {id, id}, {IteratorType::parallel},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   linalg::YieldOp::create(
                       nb, l,
                       ValueRange{arith::ExtSIOp::create(nb, l, nb.getI64Type(),
                                                         args[0])});
                 })[0];
}

/// 0 <= id < numExperts.
Value validExpert(OpBuilder &b, Location loc, Value id, int64_t numExperts) {
  Value ge = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, id,
                                   constI64(b, loc, 0));
  Value lt = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, id,
                                   constI64(b, loc, numExperts));
  return arith::AndIOp::create(b, loc, ge, lt);
}

/// offsets [E + 1] of aligned per-expert segments for the pairs `flat`.
Value segmentOffsets(OpBuilder &b, Location loc, Value flat, int64_t e,
                     int64_t align) {
  MLIRContext *ctx = b.getContext();
  AffineExpr d0, d1;
  bindDims(ctx, d0, d1);
  // counts[e] = #{p : ids[p] == e}
  Value counts = generic(
      b, loc, ValueRange{flat},
      ValueRange{filled(b, loc, {e}, b.getI64IntegerAttr(0))},
      {AffineMap::get(2, 0, {d1}, ctx), AffineMap::get(2, 0, {d0}, ctx)},
      {IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                          args[0], indexAsI64(nb, l, 0));
        Value one = arith::ExtUIOp::create(nb, l, nb.getI64Type(), hit);
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddIOp::create(nb, l, args[1], one)});
      })[0];
  // offsets[e] = Σ_{e' < e} ceil(counts[e'] / align) · align
  return generic(
      b, loc, ValueRange{counts},
      ValueRange{filled(b, loc, {e + 1}, b.getI64IntegerAttr(0))},
      {AffineMap::get(2, 0, {d1}, ctx), AffineMap::get(2, 0, {d0}, ctx)},
      {IteratorType::parallel, IteratorType::reduction},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value a = constI64(nb, l, align);
        Value padded = arith::MulIOp::create(
            nb, l, arith::CeilDivSIOp::create(nb, l, args[0], a), a);
        Value before = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                             linalg::IndexOp::create(nb, l, 1),
                                             linalg::IndexOp::create(nb, l, 0));
        Value add =
            arith::SelectOp::create(nb, l, before, padded, constI64(nb, l, 0));
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddIOp::create(nb, l, args[1], add)});
      })[0];
}

/// pos[p] = offsets[ids[p]] + #{p' < p : ids[p'] == ids[p]}, or -1 for a
/// pair with an id outside [0, E): the row of pair p.
Value pairRows(OpBuilder &b, Location loc, Value flat, Value offsets,
               int64_t e) {
  MLIRContext *ctx = b.getContext();
  int64_t p = cast<RankedTensorType>(flat.getType()).getDimSize(0);
  SmallVector<Value> dP = dynamicSizes(b, loc, flat);
  AffineExpr d0, d1;
  bindDims(ctx, d0, d1);
  AffineMap first = AffineMap::get(2, 0, {d0}, ctx);
  AffineMap second = AffineMap::get(2, 0, {d1}, ctx);
  SmallVector<IteratorType> red = {IteratorType::parallel,
                                   IteratorType::reduction};
  Value rank = generic(
      b, loc, ValueRange{flat, flat},
      ValueRange{filled(b, loc, {p}, b.getI64IntegerAttr(0), dP)},
      {first, second, first}, red,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value same = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                           args[0], args[1]);
        Value before = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                             linalg::IndexOp::create(nb, l, 1),
                                             linalg::IndexOp::create(nb, l, 0));
        Value one = arith::ExtUIOp::create(
            nb, l, nb.getI64Type(), arith::AndIOp::create(nb, l, same, before));
        linalg::YieldOp::create(
            nb, l, ValueRange{arith::AddIOp::create(nb, l, args[2], one)});
      })[0];
  // base[p] = offsets[ids[p]] as a reduction over experts (no gather).
  Value base = generic(
      b, loc, ValueRange{flat, offsets},
      ValueRange{filled(b, loc, {p}, b.getI64IntegerAttr(0), dP)},
      {first, second, first}, red,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                          args[0], indexAsI64(nb, l, 1));
        linalg::YieldOp::create(
            nb, l,
            ValueRange{arith::SelectOp::create(nb, l, hit, args[1], args[2])});
      })[0];
  AffineMap id = b.getMultiDimIdentityMap(1);
  return generic(b, loc, ValueRange{flat, rank, base},
                 ValueRange{emptyLike(b, loc, {p}, b.getI64Type(), dP)},
                 {id, id, id, id}, {IteratorType::parallel},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   Value row = arith::AddIOp::create(nb, l, args[2], args[1]);
                   linalg::YieldOp::create(
                       nb, l,
                       ValueRange{arith::SelectOp::create(
                           nb, l, validExpert(nb, l, args[0], e), row,
                           constI64(nb, l, -1))});
                 })[0];
}

struct LowerExpertDispatch : OpRewritePattern<ExpertDispatchOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertDispatchOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    int64_t k = op.getIds().getType().getDimSize(1);
    int64_t e = op.getOffsets().getType().getDimSize(0) - 1;
    auto rowsType = op.getRows().getType();
    int64_t r = rowsType.getDimSize(0);
    // Dynamic rows: T·K + E·(alignment - 1) for a dynamic token count T.
    SmallVector<Value> dR;
    if (ShapedType::isDynamic(r)) {
      Value t = tensor::DimOp::create(b, loc, op.getIds(), 0);
      int64_t pad = e * (static_cast<int64_t>(op.getAlignment()) - 1);
      dR.push_back(arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(b, loc, t,
                                arith::ConstantIndexOp::create(b, loc, k)),
          arith::ConstantIndexOp::create(b, loc, pad)));
    }
    Value flat = flatPairs(b, loc, op.getIds());
    Value offsets = segmentOffsets(b, loc, flat, e,
                                   static_cast<int64_t>(op.getAlignment()));
    Value pos = pairRows(b, loc, flat, offsets, e);

    // row_to_token[r] = p / K for the pair p placed at row r, else -1.
    AffineExpr d0, d1;
    bindDims(ctx, d0, d1);
    Value tok = generic(
        b, loc, ValueRange{pos},
        ValueRange{filled(b, loc, {r}, b.getI64IntegerAttr(-1), dR)},
        {AffineMap::get(2, 0, {d1}, ctx), AffineMap::get(2, 0, {d0}, ctx)},
        {IteratorType::parallel, IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                            args[0], indexAsI64(nb, l, 0));
          Value t = arith::DivSIOp::create(nb, l, indexAsI64(nb, l, 1),
                                           constI64(nb, l, k));
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::SelectOp::create(nb, l, hit, t, args[1])});
        })[0];

    // rows[r, h] = x[row_to_token[r], h], zeros for padding rows.
    Value x = op.getInput();
    Type elem = rowsType.getElementType();
    AffineMap id2 = b.getMultiDimIdentityMap(2);
    Value rows = generic(
        b, loc, ValueRange{tok},
        ValueRange{emptyLike(b, loc, rowsType.getShape(), elem, dR)},
        {AffineMap::get(2, 0, {d0}, ctx), id2},
        {IteratorType::parallel, IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value valid = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                              args[0], constI64(nb, l, 0));
          Value t = arith::SelectOp::create(nb, l, valid, args[0],
                                            constI64(nb, l, 0));
          Value v = tensor::ExtractOp::create(
              nb, l, x,
              ValueRange{toIndex(nb, l, t), linalg::IndexOp::create(nb, l, 1)});
          Value zero =
              arith::ConstantOp::create(nb, l, nb.getFloatAttr(elem, 0.0));
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::SelectOp::create(nb, l, valid, v, zero)});
        })[0];
    rewriter.replaceOp(op, {rows, offsets, tok});
    return success();
  }
};

struct LowerGroupedMatmul : OpRewritePattern<GroupedMatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    auto wType = op.getWeight().getType();
    int64_t e = wType.getDimSize(0), n = wType.getDimSize(1);
    int64_t r = op.getInput().getType().getDimSize(0);
    SmallVector<Value> dR = dynamicSizes(b, loc, op.getInput());
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);

    // expert[r] = #{e >= 1 : offsets[e] <= r}: the expert whose segment
    // holds row r, or E for the rows past offsets[E] (the unused tail); a
    // row before offsets[0] is in no segment either and gets E more.
    Value expert = generic(
        b, loc, ValueRange{op.getOffsets()},
        ValueRange{filled(b, loc, {r}, b.getI64IntegerAttr(0), dR)},
        {AffineMap::get(2, 0, {d1}, ctx), AffineMap::get(2, 0, {d0}, ctx)},
        {IteratorType::parallel, IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value ended = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sle,
                                              args[0], indexAsI64(nb, l, 0));
          Value notFirst =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                    indexAsI64(nb, l, 1), constI64(nb, l, 1));
          Value one = arith::ExtUIOp::create(
              nb, l, nb.getI64Type(),
              arith::AndIOp::create(nb, l, ended, notFirst));
          Value isFirst =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                    indexAsI64(nb, l, 1), constI64(nb, l, 0));
          Value early = arith::AndIOp::create(
              nb, l, isFirst,
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sgt, args[0],
                                    indexAsI64(nb, l, 0)));
          Value add =
              arith::SelectOp::create(nb, l, early, constI64(nb, l, e), one);
          linalg::YieldOp::create(
              nb, l, ValueRange{arith::AddIOp::create(nb, l, args[1], add)});
        })[0];

    // C[r, n] = Σ_k A[r, k] · W[expert[r], n, k] (· its block scale), one
    // (row, column) per iteration with the K loop inside, so that a tail row
    // costs a comparison: it reads no weight (an expert no token was routed
    // to is never touched) and its result is 0.
    Value w = op.getWeight();
    Value s = op.getWeightScaleInv();
    Value a = op.getInput();
    int64_t kDim = op.getInput().getType().getDimSize(1);
    Value acc = generic(
        b, loc, ValueRange{expert},
        ValueRange{emptyLike(b, loc, {r, n}, b.getF32Type(), dR)},
        {AffineMap::get(2, 0, {d0}, ctx), AffineMap::get(2, 0, {d0, d1}, ctx)},
        {IteratorType::parallel, IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value zero = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(0));
          Value used = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                             args[0], constI64(nb, l, e));
          // linalg.index must sit directly in the generic's body.
          Value ir = linalg::IndexOp::create(nb, l, 0);
          Value in = linalg::IndexOp::create(nb, l, 1);
          auto sum = scf::IfOp::create(
              nb, l, used,
              [&](OpBuilder &tb, Location tl) {
                Value ex = toIndex(tb, tl, args[0]);
                Value c1 = arith::ConstantIndexOp::create(tb, tl, 1);
                // Σ_{k0 <= k < k1} a[r, k] · W[e, n, k] in f32. Reassociable,
                // so LLVM may vectorize the reduction; the block scale is
                // applied once per 128-wide block, outside it.
                auto fm = arith::FastMathFlags::reassoc |
                          arith::FastMathFlags::contract;
                auto dot = [&](OpBuilder &ob, Location ol, Value k0, Value k1) {
                  return scf::ForOp::create(
                             ob, ol, k0, k1, c1, ValueRange{zero},
                             [&](OpBuilder &fb, Location fl, Value ik,
                                 ValueRange it) {
                               Value wv = toF32(
                                   fb, fl,
                                   tensor::ExtractOp::create(
                                       fb, fl, w, ValueRange{ex, in, ik}));
                               Value av =
                                   toF32(fb, fl,
                                         tensor::ExtractOp::create(
                                             fb, fl, a, ValueRange{ir, ik}));
                               Value p =
                                   arith::MulFOp::create(fb, fl, av, wv, fm);
                               scf::YieldOp::create(
                                   fb, fl,
                                   ValueRange{arith::AddFOp::create(
                                       fb, fl, it[0], p, fm)});
                             })
                      .getResult(0);
                };
                Value c0 = arith::ConstantIndexOp::create(tb, tl, 0);
                Value kEnd = arith::ConstantIndexOp::create(tb, tl, kDim);
                if (!s) {
                  scf::YieldOp::create(tb, tl,
                                       ValueRange{dot(tb, tl, c0, kEnd)});
                  return;
                }
                Value blk = arith::ConstantIndexOp::create(tb, tl, kQuantBlock);
                Value nBlocks = arith::ConstantIndexOp::create(
                    tb, tl, llvm::divideCeil(kDim, kQuantBlock));
                Value nBlock = arith::DivUIOp::create(tb, tl, in, blk);
                auto blocks = scf::ForOp::create(
                    tb, tl, c0, nBlocks, c1, ValueRange{zero},
                    [&](OpBuilder &bb, Location bl, Value kb, ValueRange it) {
                      Value k0 = arith::MulIOp::create(bb, bl, kb, blk);
                      Value k1 = arith::MinUIOp::create(
                          bb, bl, arith::AddIOp::create(bb, bl, k0, blk), kEnd);
                      Value part = dot(bb, bl, k0, k1);
                      Value sv = tensor::ExtractOp::create(
                          bb, bl, s, ValueRange{ex, nBlock, kb});
                      scf::YieldOp::create(
                          bb, bl,
                          ValueRange{arith::AddFOp::create(
                              bb, bl, it[0],
                              arith::MulFOp::create(bb, bl, part, sv))});
                    });
                scf::YieldOp::create(tb, tl, blocks.getResults());
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, ValueRange{zero});
              });
          linalg::YieldOp::create(nb, l, sum.getResults());
        })[0];
    rewriter.replaceOp(
        op, castTo(b, loc, acc, op.getResult().getType().getElementType()));
    return success();
  }
};

struct LowerExpertCombine : OpRewritePattern<ExpertCombineOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ExpertCombineOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    auto idsType = op.getIds().getType();
    int64_t t = idsType.getDimSize(0), k = idsType.getDimSize(1);
    int64_t e = op.getOffsets().getType().getDimSize(0) - 1;
    int64_t n = op.getRows().getType().getDimSize(1);
    // The row count as i64, for the bounds check of each pair's row.
    Value rowCount = arith::IndexCastOp::create(
        b, loc, b.getI64Type(), tensor::DimOp::create(b, loc, op.getRows(), 0));
    Value flat = flatPairs(b, loc, op.getIds());
    SmallVector<Value> dT = dynamicSizes(b, loc, op.getIds());
    Value pos = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({t, k}, b.getI64Type()),
        pairRows(b, loc, flat, op.getOffsets(), e),
        SmallVector<ReassociationIndices>{{0, 1}},
        SmallVector<OpFoldResult>{tensor::getMixedSize(b, loc, op.getIds(), 0),
                                  b.getIndexAttr(k)});
    AffineExpr d0, d1, d2;
    bindDims(ctx, d0, d1, d2);
    Value rows = op.getRows();
    // y[t, n] = Σ_k w[t, k] · rows[pos[t, k], n], k ascending.
    Value acc = generic(
        b, loc, ValueRange{pos, op.getWeights()},
        ValueRange{zerosF32(b, loc, {t, n}, dT)},
        {AffineMap::get(3, 0, {d0, d2}, ctx),
         AffineMap::get(3, 0, {d0, d2}, ctx),
         AffineMap::get(3, 0, {d0, d1}, ctx)},
        {IteratorType::parallel, IteratorType::parallel,
         IteratorType::reduction},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          // Offsets that do not come from the same dispatch could point
          // past the rows; such pairs are skipped rather than read out of
          // bounds.
          Value nonNeg = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge,
                                               args[0], constI64(nb, l, 0));
          Value inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                               args[0], rowCount);
          Value valid = arith::AndIOp::create(nb, l, nonNeg, inside);
          Value row = arith::SelectOp::create(nb, l, valid, args[0],
                                              constI64(nb, l, 0));
          Value v = toF32(nb, l,
                          tensor::ExtractOp::create(
                              nb, l, rows,
                              ValueRange{toIndex(nb, l, row),
                                         linalg::IndexOp::create(nb, l, 1)}));
          Value p = arith::MulFOp::create(nb, l, args[1], v);
          Value sum = arith::AddFOp::create(nb, l, args[2], p);
          linalg::YieldOp::create(
              nb, l,
              ValueRange{arith::SelectOp::create(nb, l, valid, sum, args[2])});
        })[0];
    rewriter.replaceOp(
        op, castTo(b, loc, acc, op.getResult().getType().getElementType()));
    return success();
  }
};

} // namespace

void mlir::dsv3::populateMoELoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMoEGate, LowerExpertBiasUpdate, LowerExpertDispatch,
               LowerGroupedMatmul, LowerExpertCombine>(patterns.getContext());
}
