//===- LowerAttention.cpp - rope, latent_attention, kv_cache_update -------===//
//
// The executable definition of the MLA ops (docs/semantics.md §8-§10): plain
// linalg.generic ops over tensors whose bodies spell out the formulas, all
// arithmetic in f32 and one rounding to the result type at the end.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils.h"
#include "dsv3/IR/Dsv3Attention.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
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

//===----------------------------------------------------------------------===//
// dsv3.rope
//===----------------------------------------------------------------------===//

/// Works on x viewed with its last dim split into the rotated pairs:
/// [..., D/2, 2] for interleaved pairs, [..., 2, D/2] for halves. One generic
/// over that view reads both members of a pair through constant-index maps,
/// so no gather is needed and the output map stays the identity.
struct LowerRope : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    auto xType = op.getInput().getType();
    auto yType = op.getResult().getType();
    int64_t rank = xType.getRank();
    int64_t posRank = op.getPositions().getType().getRank();
    int64_t half = xType.getShape().back() / 2;
    bool interleaved = op.getLayout() == RopeLayout::interleaved;

    // f' in f64, rounded once to f32: the reference computes the angle as
    // an f32 product of an f32 position and an f32 frequency (docs/semantics.md
    // §8.1).
    SmallVector<float> freqs;
    for (double f : op.getFrequencies())
      freqs.push_back(static_cast<float>(f));
    auto freqType = RankedTensorType::get({half}, b.getF32Type());
    Value freqT = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(freqType, ArrayRef<float>(freqs)));

    SmallVector<int64_t> viewShape(xType.getShape().drop_back());
    if (interleaved)
      viewShape.append({half, 2});
    else
      viewShape.append({2, half});
    SmallVector<ReassociationIndices> reassoc;
    for (int64_t i = 0; i < rank - 1; ++i)
      reassoc.push_back({i});
    reassoc.push_back({rank - 1, rank});
    // The leading (token) dimensions keep their sizes, dynamic or not.
    SmallVector<OpFoldResult> viewSizes =
        tensor::getMixedSizes(b, loc, op.getInput());
    viewSizes.pop_back();
    for (int64_t d : ArrayRef<int64_t>(viewShape).take_back(2))
      viewSizes.push_back(b.getIndexAttr(d));
    SmallVector<Value> dynamic = dynamicSizes(b, loc, op.getInput());
    Value xView = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(viewShape, xType.getElementType()),
        op.getInput(), reassoc, viewSizes);

    int64_t n = rank + 1;
    int64_t freqDim = interleaved ? rank - 1 : rank;
    int64_t pairDim = interleaved ? rank : rank - 1;
    auto memberMap = [&](int64_t member) {
      SmallVector<AffineExpr> exprs;
      for (int64_t d = 0; d < n; ++d)
        exprs.push_back(d == pairDim ? getAffineConstantExpr(member, ctx)
                                     : getAffineDimExpr(d, ctx));
      return AffineMap::get(n, 0, exprs, ctx);
    };
    SmallVector<int64_t> posDims;
    for (int64_t d = 0; d < posRank; ++d)
      posDims.push_back(d);
    Type elem = yType.getElementType();
    Value yView =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(viewShape, elem)},
            ValueRange{xView, xView, op.getPositions(), freqT},
            ValueRange{emptyLike(b, loc, viewShape, elem, dynamic)},
            ArrayRef<AffineMap>{
                memberMap(0), memberMap(1), pickDims(ctx, n, posDims),
                pickDims(ctx, n, {freqDim}), b.getMultiDimIdentityMap(n)},
            SmallVector<IteratorType>(n, IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              auto [ya, yb] =
                  op.buildRotation(nb, l, args[0], args[1], args[2], args[3]);
              Value j = linalg::IndexOp::create(nb, l, pairDim);
              Value first = arith::CmpIOp::create(
                  nb, l, arith::CmpIPredicate::eq, j,
                  arith::ConstantIndexOp::create(nb, l, 0));
              Value y = arith::SelectOp::create(nb, l, first, ya, yb);
              linalg::YieldOp::create(nb, l,
                                      ValueRange{convertFloat(nb, l, y, elem)});
            })
            .getResult(0);
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(op, yType, yView,
                                                         reassoc);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// dsv3.latent_attention
//===----------------------------------------------------------------------===//

struct LowerLatentAttention : OpRewritePattern<LatentAttentionOp> {
  LowerLatentAttention(MLIRContext *ctx, bool boundByKvLen)
      : OpRewritePattern(ctx), boundByKvLen(boundByKvLen) {}
  bool boundByKvLen;

  LogicalResult matchAndRewrite(LatentAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    auto qType = op.getQNope().getType();
    auto yType = op.getResult().getType();
    int64_t B = qType.getDimSize(0), S = qType.getDimSize(1),
            H = qType.getDimSize(2), C = qType.getDimSize(3);
    int64_t L = op.getCKv().getType().getDimSize(1);
    SmallVector<int64_t> rowShape = {B, S, H};
    auto f32 = b.getF32Type();
    auto par = IteratorType::parallel, red = IteratorType::reduction;
    // The query count S may be dynamic (prefill of any length).
    SmallVector<Value> dS = dynamicSizes(b, loc, op.getQNope());

    // Keys t >= max_b kv_len[b] are hidden from every query, so with
    // bound-by-kv-len the key loops stop there: a decode step then costs
    // O(kv_len), not O(max_seq_len), and reads no cache row past it.
    Value cKv = op.getCKv(), kPe = op.getKPe();
    SmallVector<OpFoldResult> scoreSizes = {
        b.getIndexAttr(B), tensor::getMixedSize(b, loc, op.getQNope(), 1),
        b.getIndexAttr(H), b.getIndexAttr(L)};
    if (boundByKvLen) {
      Value n = buildVisibleKeyBound(b, loc, op.getKvLen(), L);
      cKv = prefixRows(b, loc, cKv, n);
      kPe = prefixRows(b, loc, kPe, n);
      scoreSizes[3] = n;
    }
    auto empty = [&](Type elem) {
      return tensor::EmptyOp::create(b, loc, scoreSizes, elem).getResult();
    };
    auto zeros = [&]() {
      return linalg::FillOp::create(b, loc, constF32(b, loc, 0.0f), empty(f32))
          .getResult(0);
    };

    // Raw scores: Σ_c q_nope·c_kv, then Σ_r q_pe·k_pe accumulated onto it.
    // Iteration (b, i, h, t, k) with k the contracted dim.
    auto dot = [&](Value q, Value k, Value init) {
      return linalg::GenericOp::create(
                 b, loc, TypeRange{init.getType()}, ValueRange{q, k},
                 ValueRange{init},
                 ArrayRef<AffineMap>{pickDims(ctx, 5, {0, 1, 2, 4}),
                                     pickDims(ctx, 5, {0, 3, 4}),
                                     pickDims(ctx, 5, {0, 1, 2, 3})},
                 {par, par, par, par, red},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   linalg::YieldOp::create(
                       nb, l,
                       ValueRange{mulAddF32(nb, l, args[0], args[1], args[2])});
                 })
          .getResult(0);
    };
    Value raw = dot(op.getQNope(), cKv, zeros());
    raw = dot(op.getQPe(), kPe, raw);

    // Scaled scores with the causal rule t <= start_pos + i and t < kv_len
    // (docs/semantics.md §10.5); hidden keys get -inf.
    float scale = op.getScale().convertToFloat();
    float negInf = -std::numeric_limits<float>::infinity();
    AffineMap id4 = b.getMultiDimIdentityMap(4);
    AffineMap batch4 = pickDims(ctx, 4, {0});
    AffineMap row4 = pickDims(ctx, 4, {0, 1, 2});
    Value scores =
        linalg::GenericOp::create(
            b, loc, TypeRange{raw.getType()},
            ValueRange{raw, op.getStartPos(), op.getKvLen()},
            ValueRange{empty(f32)},
            ArrayRef<AffineMap>{id4, batch4, batch4, id4}, {par, par, par, par},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value i = linalg::IndexOp::create(nb, l, 1);
              Value t = linalg::IndexOp::create(nb, l, 3);
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{maskedScore(nb, l, args[0], scale, t, i, args[1],
                                         args[2])});
            })
            .getResult(0);

    // Row maximum; a row with no visible key keeps -inf and is shifted by 0
    // instead, so its exponentials are exactly 0 rather than NaN.
    Value maxInit = linalg::FillOp::create(b, loc, constF32(b, loc, negInf),
                                           emptyLike(b, loc, rowShape, f32, dS))
                        .getResult(0);
    Value rowMax =
        linalg::GenericOp::create(
            b, loc, TypeRange{maxInit.getType()}, ValueRange{scores},
            ValueRange{maxInit}, ArrayRef<AffineMap>{id4, row4},
            {par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              linalg::YieldOp::create(nb, l,
                                      ValueRange{arith::MaximumFOp::create(
                                          nb, l, args[1], args[0])});
            })
            .getResult(0);
    auto shiftedExp = [&](OpBuilder &nb, Location l, Value s, Value m) {
      Value isInf = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, m,
                                          constF32(nb, l, negInf));
      Value shift =
          arith::SelectOp::create(nb, l, isInf, constF32(nb, l, 0.0f), m);
      return math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, s, shift));
    };
    Value rowSum =
        linalg::GenericOp::create(
            b, loc, TypeRange{maxInit.getType()}, ValueRange{scores, rowMax},
            ValueRange{zerosF32(b, loc, rowShape, dS)},
            ArrayRef<AffineMap>{id4, row4, row4}, {par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value e = shiftedExp(nb, l, args[0], args[1]);
              linalg::YieldOp::create(
                  nb, l, ValueRange{arith::AddFOp::create(nb, l, args[2], e)});
            })
            .getResult(0);
    // P = exp(s - max) / Σ, or 0 for a row without visible keys.
    Value probs =
        linalg::GenericOp::create(
            b, loc, TypeRange{scores.getType()},
            ValueRange{scores, rowMax, rowSum}, ValueRange{empty(f32)},
            ArrayRef<AffineMap>{id4, row4, row4, id4}, {par, par, par, par},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value e = shiftedExp(nb, l, args[0], args[1]);
              Value any =
                  arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                        args[2], constF32(nb, l, 0.0f));
              Value p = arith::DivFOp::create(nb, l, e, args[2]);
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{arith::SelectOp::create(nb, l, any, p,
                                                     constF32(nb, l, 0.0f))});
            })
            .getResult(0);

    // out[b,i,h,c] = Σ_t P[b,i,h,t] · c_kv[b,t,c]; iteration (b, i, h, c, t).
    SmallVector<int64_t> outShape = {B, S, H, C};
    Value acc =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(outShape, f32)},
            ValueRange{probs, cKv}, ValueRange{zerosF32(b, loc, outShape, dS)},
            ArrayRef<AffineMap>{pickDims(ctx, 5, {0, 1, 2, 4}),
                                pickDims(ctx, 5, {0, 4, 3}),
                                pickDims(ctx, 5, {0, 1, 2, 3})},
            {par, par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              linalg::YieldOp::create(nb, l,
                                      ValueRange{weightedAddSkipZero(
                                          nb, l, args[0], args[1], args[2])});
            })
            .getResult(0);
    acc = castTo(b, loc, acc, yType.getElementType());
    if (!op.getLse()) {
      rewriter.replaceOp(op, acc);
      return success();
    }
    // lse = max + log Σ exp(s - max), -inf for a row without visible keys
    // (attention_merge then gives it no weight).
    AffineMap id3 = b.getMultiDimIdentityMap(3);
    Value lse =
        linalg::GenericOp::create(
            b, loc, TypeRange{maxInit.getType()}, ValueRange{rowMax, rowSum},
            ValueRange{emptyLike(b, loc, rowShape, f32, dS)},
            ArrayRef<AffineMap>{id3, id3, id3}, {par, par, par},
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value any =
                  arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT,
                                        args[1], constF32(nb, l, 0.0f));
              Value v = arith::AddFOp::create(
                  nb, l, args[0], math::LogOp::create(nb, l, args[1]));
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{arith::SelectOp::create(nb, l, any, v,
                                                     constF32(nb, l, negInf))});
            })
            .getResult(0);
    rewriter.replaceOp(op, {acc, lse});
    return success();
  }

  /// cache[:, 0:n, :].
  static Value prefixRows(OpBuilder &b, Location loc, Value cache, Value n) {
    auto type = cast<RankedTensorType>(cache.getType());
    SmallVector<OpFoldResult> offsets(3, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(type.getDimSize(0)), n,
                                       b.getIndexAttr(type.getDimSize(2))};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(b, loc, cache, offsets, sizes,
                                          strides);
  }
};

//===----------------------------------------------------------------------===//
// dsv3.kv_cache_update
//===----------------------------------------------------------------------===//

/// Rebuilds a cache [B, L, X] with row t of sequence b taken from
/// rows[b, t - start_pos[b]] when that index lies in [0, S). Written as a
/// parallel generic over the cache with a guarded gather, so positions
/// outside the cache simply write nothing, and with the cache as its init so
/// that a session-state cache is updated in place (no copy of the cache).
/// Every element is still visited: O(L) per call, where a host-specific
/// insert_slice would touch only the S new rows.
Value buildCacheUpdate(OpBuilder &b, Location loc, Value cache, Value rows,
                       Value startPos) {
  MLIRContext *ctx = b.getContext();
  auto cacheType = cast<RankedTensorType>(cache.getType());
  // The new row count, static or dynamic.
  Value s = getValueOrCreateConstantIndexOp(
      b, loc, tensor::getMixedSize(b, loc, rows, 1));
  Type elem = cacheType.getElementType();
  AffineMap id = b.getMultiDimIdentityMap(3);
  auto par = IteratorType::parallel;
  return linalg::GenericOp::create(
             b, loc, TypeRange{cacheType}, ValueRange{startPos},
             ValueRange{cache}, ArrayRef<AffineMap>{pickDims(ctx, 3, {0}), id},
             {par, par, par},
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value bi = linalg::IndexOp::create(nb, l, 0);
               Value t = linalg::IndexOp::create(nb, l, 1);
               Value x = linalg::IndexOp::create(nb, l, 2);
               Value r =
                   arith::SubIOp::create(nb, l, t, toIndex(nb, l, args[0]));
               Value zero = arith::ConstantIndexOp::create(nb, l, 0);
               Value inRange = arith::AndIOp::create(
                   nb, l,
                   arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sge, r,
                                         zero),
                   arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, r,
                                         s));
               // Clamped so the load stays in bounds; the select discards it.
               Value row = arith::SelectOp::create(nb, l, inRange, r, zero);
               Value v = tensor::ExtractOp::create(nb, l, rows,
                                                   ValueRange{bi, row, x});
               linalg::YieldOp::create(
                   nb, l,
                   ValueRange{arith::SelectOp::create(
                       nb, l, inRange, convertFloat(nb, l, v, elem), args[1])});
             })
      .getResult(0);
}

/// dsv3.attention_merge: one generic for the merged lse (rank n-1) and one
/// for the merged output (rank n), both in f32. Weights are exp(lse - m) with
/// m the larger lse, so the larger part has weight 1 and nothing overflows;
/// when m = -inf neither part saw a key and the weights are forced to 0.
struct LowerAttentionMerge : OpRewritePattern<AttentionMergeOp> {
  using OpRewritePattern::OpRewritePattern;

  /// {w1, w2, m} of the formula, with w = 0 when m = -inf.
  static std::tuple<Value, Value, Value> weights(OpBuilder &b, Location l,
                                                 Value lse1, Value lse2) {
    Value m = arith::MaximumFOp::create(b, l, lse1, lse2);
    Value ninf = constF32(b, l, -std::numeric_limits<float>::infinity());
    Value empty =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, m, ninf);
    Value zero = constF32(b, l, 0.0f);
    auto w = [&](Value lse) {
      Value e = math::ExpOp::create(b, l, arith::SubFOp::create(b, l, lse, m));
      return arith::SelectOp::create(b, l, empty, zero, e).getResult();
    };
    return {w(lse1), w(lse2), m};
  }

  LogicalResult matchAndRewrite(AttentionMergeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto oType = op.getOut().getType();
    auto lseType = op.getLse().getType();
    int64_t n = oType.getRank();
    SmallVector<int64_t> rowDims;
    for (int64_t i = 0; i + 1 < n; ++i)
      rowDims.push_back(i);
    AffineMap id = rewriter.getMultiDimIdentityMap(n);
    AffineMap row = pickDims(ctx, n, rowDims);
    SmallVector<IteratorType> par(n, IteratorType::parallel);

    Value lse =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{lseType},
            ValueRange{op.getLse1(), op.getLse2()},
            ValueRange{emptyLike(rewriter, loc, lseType.getShape(),
                                 rewriter.getF32Type(),
                                 dynamicSizes(rewriter, loc, op.getLse1()))},
            SmallVector<AffineMap>(3, rewriter.getMultiDimIdentityMap(n - 1)),
            SmallVector<IteratorType>(n - 1, IteratorType::parallel),
            [&](OpBuilder &b, Location l, ValueRange a) {
              auto [w1, w2, m] = weights(b, l, a[0], a[1]);
              Value sum = arith::AddFOp::create(b, l, w1, w2);
              // log(0) = -inf, so an empty pair gives m + -inf = -inf.
              Value r = arith::AddFOp::create(b, l, m,
                                              math::LogOp::create(b, l, sum));
              linalg::YieldOp::create(b, l, r);
            })
            .getResult(0);

    Value out =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{oType},
            ValueRange{op.getO1(), op.getLse1(), op.getO2(), op.getLse2()},
            ValueRange{emptyLike(rewriter, loc, oType.getShape(),
                                 oType.getElementType(),
                                 dynamicSizes(rewriter, loc, op.getO1()))},
            ArrayRef<AffineMap>{id, row, id, row, id}, par,
            [&](OpBuilder &b, Location l, ValueRange a) {
              auto [w1, w2, m] = weights(b, l, a[1], a[3]);
              (void)m;
              Value zero = constF32(b, l, 0.0f);
              // A weight-0 part contributes nothing even if its o is NaN.
              auto term = [&](Value w, Value o) {
                Value t = arith::MulFOp::create(b, l, w, toF32(b, l, o));
                Value used = arith::CmpFOp::create(
                    b, l, arith::CmpFPredicate::OGT, w, zero);
                return arith::SelectOp::create(b, l, used, t, zero).getResult();
              };
              Value num =
                  arith::AddFOp::create(b, l, term(w1, a[0]), term(w2, a[2]));
              Value den = arith::AddFOp::create(b, l, w1, w2);
              Value safe = arith::SelectOp::create(
                  b, l,
                  arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, den,
                                        zero),
                  den, constF32(b, l, 1.0f));
              Value r = arith::DivFOp::create(b, l, num, safe);
              linalg::YieldOp::create(
                  b, l, convertFloat(b, l, r, oType.getElementType()));
            })
            .getResult(0);
    rewriter.replaceOp(op, {out, lse});
    return success();
  }
};

/// The S new rows of each sequence inserted at start_pos[b] when
/// 0 <= start_pos[b] <= L - S (else that sequence's cache is unchanged, as
/// buildCacheUpdate gives): O(S) per call instead of O(L). Inserting into the
/// cache operand lets bufferization write a session-state cache in place.
static Value insertCacheRows(OpBuilder &b, Location loc, Value cache,
                             Value rows, Value startPos) {
  auto cacheType = cast<RankedTensorType>(cache.getType());
  int64_t batch = cacheType.getDimSize(0), l = cacheType.getDimSize(1),
          x = cacheType.getDimSize(2);
  // The new row count, static or dynamic (a prefill of any length).
  OpFoldResult s = tensor::getMixedSize(b, loc, rows, 1);
  Value sV = getValueOrCreateConstantIndexOp(b, loc, s);
  rows = castTo(b, loc, rows, cacheType.getElementType());
  for (int64_t i = 0; i < batch; ++i) {
    Value start =
        toIndex(b, loc,
                tensor::ExtractOp::create(
                    b, loc, startPos,
                    ValueRange{arith::ConstantIndexOp::create(b, loc, i)}));
    Value inRange = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, start,
                              arith::ConstantIndexOp::create(b, loc, 0)),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                              arith::AddIOp::create(b, loc, start, sV),
                              arith::ConstantIndexOp::create(b, loc, l)));
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), s, b.getIndexAttr(x)};
    Value cur = cache;
    cache = scf::IfOp::create(
                b, loc, inRange,
                [&](OpBuilder &tb, Location tl) {
                  Value row = tensor::ExtractSliceOp::create(
                      tb, tl, rows,
                      SmallVector<OpFoldResult>{tb.getIndexAttr(i),
                                                tb.getIndexAttr(0),
                                                tb.getIndexAttr(0)},
                      sizes, strides);
                  Value updated = tensor::InsertSliceOp::create(
                      tb, tl, row, cur,
                      SmallVector<OpFoldResult>{tb.getIndexAttr(i), start,
                                                tb.getIndexAttr(0)},
                      sizes, strides);
                  scf::YieldOp::create(tb, tl, updated);
                },
                [&](OpBuilder &eb, Location el) {
                  scf::YieldOp::create(eb, el, cur);
                })
                .getResult(0);
  }
  return cache;
}

struct LowerKVCacheUpdate : OpRewritePattern<KVCacheUpdateOp> {
  LowerKVCacheUpdate(MLIRContext *ctx, bool boundByKvLen)
      : OpRewritePattern(ctx), boundByKvLen(boundByKvLen) {}
  bool boundByKvLen;

  LogicalResult matchAndRewrite(KVCacheUpdateOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto update = boundByKvLen ? insertCacheRows : buildCacheUpdate;
    Value c =
        update(rewriter, loc, op.getCKv(), op.getNewCKv(), op.getStartPos());
    Value k =
        update(rewriter, loc, op.getKPe(), op.getNewKPe(), op.getStartPos());
    rewriter.replaceOp(op, {c, k});
    return success();
  }
};

} // namespace

void mlir::dsv3::populateAttentionLoweringPatterns(RewritePatternSet &patterns,
                                                   bool boundByKvLen) {
  patterns.add<LowerRope, LowerAttentionMerge>(patterns.getContext());
  patterns.add<LowerLatentAttention, LowerKVCacheUpdate>(patterns.getContext(),
                                                         boundByKvLen);
}
