//===- LowerSplitKVAttention.cpp - split-KV decode attention --------------===//
//
// Decode attends S <= 16 queries per sequence to a long cache. Lowered the
// plain way, each (b, i, h) reduces over all L keys alone, so a decode step
// of one sequence has only H independent reductions: far too few for a GPU.
// Split-KV (FlashDecoding, FlashMLA) cuts the keys into N splits of Lc rows,
// attends to each split independently (N times the parallelism), and merges
// the partial results by their log-sum-exp (dsv3.attention_merge's formula,
// over N parts):
//
//   split n:  m_n = max_t s_t,  l_n = Σ_t exp(s_t - m_n)   (one online pass)
//             o_n = Σ_t exp(s_t - m_n) / l_n · c_kv[t],   lse_n = m_n + log l_n
//   merge:    M = max_n lse_n,  w_n = exp(lse_n - M)
//             out = Σ_n w_n · o_n / Σ_n w_n
//
// The split index n is a parallel dimension of every generic below, so the
// cuda pipeline maps it to threads. Keys of split n are rows n·Lc + tc of the
// cache, read through affine maps (Lc divides L, so nothing is padded or
// copied). Numerically this equals the unsplit lowering up to f32 rounding.
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::detail;
using utils::IteratorType;

int64_t mlir::dsv3::chooseKVSplitLength(int64_t seqLen, int64_t queryLen,
                                        int64_t minSplitLength) {
  // Prefill has parallelism to spare, and its partial outputs
  // [B, S, H, N, C] would grow with S.
  if (minSplitLength <= 0 || queryLen > 16)
    return 0;
  for (int64_t lc = minSplitLength; 2 * lc <= seqLen; ++lc)
    if (seqLen % lc == 0)
      return lc;
  return 0;
}

namespace {

struct LowerLatentAttentionSplitKV : OpRewritePattern<LatentAttentionOp> {
  LowerLatentAttentionSplitKV(MLIRContext *ctx, int64_t minSplitLength)
      : OpRewritePattern(ctx, /*benefit=*/2), minSplitLength(minSplitLength) {}

  LogicalResult matchAndRewrite(LatentAttentionOp op,
                                PatternRewriter &rewriter) const override {
    auto qType = op.getQNope().getType();
    int64_t B = qType.getDimSize(0), S = qType.getDimSize(1),
            H = qType.getDimSize(2), C = qType.getDimSize(3);
    int64_t L = op.getCKv().getType().getDimSize(1);
    // Splitting the keys pays off for few queries (decode); a dynamic query
    // count is a prefill, which the plain lowering takes.
    if (ShapedType::isDynamic(S))
      return rewriter.notifyMatchFailure(op, "dynamic query count");
    int64_t Lc = chooseKVSplitLength(L, S, minSplitLength);
    if (Lc == 0)
      return rewriter.notifyMatchFailure(op, "no split of the keys applies");
    int64_t N = L / Lc;

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    auto par = IteratorType::parallel, red = IteratorType::reduction;
    float negInf = -std::numeric_limits<float>::infinity();
    SmallVector<int64_t> scoreShape = {B, S, H, N, Lc};
    SmallVector<int64_t> partShape = {B, S, H, N};
    SmallVector<int64_t> rowShape = {B, S, H};
    // Cache row n·Lc + tc of sequence b, feature dim `feat`, in a `rank`-dim
    // iteration space with (b, n, tc, feat) at dims (0, dn, dtc, dfeat).
    auto cacheMap = [&](int64_t rank, int64_t dn, int64_t dtc, int64_t dfeat) {
      AffineExpr t =
          getAffineDimExpr(dn, ctx) * Lc + getAffineDimExpr(dtc, ctx);
      return AffineMap::get(
          rank, 0, {getAffineDimExpr(0, ctx), t, getAffineDimExpr(dfeat, ctx)},
          ctx);
    };
    auto isNegInf = [&](OpBuilder &nb, Location l, Value v) {
      return arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ, v,
                                   constF32(nb, l, negInf));
    };

    // Raw scores per split: Σ_c q_nope·c_kv + Σ_r q_pe·k_pe, iteration
    // (b, i, h, n, tc, k).
    auto dot = [&](Value q, Value cache, Value init) {
      return linalg::GenericOp::create(
                 b, loc, TypeRange{init.getType()}, ValueRange{q, cache},
                 ValueRange{init},
                 ArrayRef<AffineMap>{pickDims(ctx, 6, {0, 1, 2, 5}),
                                     cacheMap(6, 3, 4, 5),
                                     pickDims(ctx, 6, {0, 1, 2, 3, 4})},
                 {par, par, par, par, par, red},
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   linalg::YieldOp::create(
                       nb, l, ValueRange{mulAddF32(nb, l, a[0], a[1], a[2])});
                 })
          .getResult(0);
    };
    Value raw = dot(op.getQNope(), op.getCKv(), zerosF32(b, loc, scoreShape));
    raw = dot(op.getQPe(), op.getKPe(), raw);

    // Scale and the causal rule on the absolute key t = n·Lc + tc
    // (docs/semantics.md §10.5).
    float scale = op.getScale().convertToFloat();
    AffineMap id5 = b.getMultiDimIdentityMap(5);
    AffineMap batch5 = pickDims(ctx, 5, {0});
    AffineMap part5 = pickDims(ctx, 5, {0, 1, 2, 3});
    SmallVector<IteratorType> par5(5, par);
    Value scores =
        linalg::GenericOp::create(
            b, loc, TypeRange{raw.getType()},
            ValueRange{raw, op.getStartPos(), op.getKvLen()},
            ValueRange{emptyLike(b, loc, scoreShape, f32)},
            ArrayRef<AffineMap>{id5, batch5, batch5, id5}, par5,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value i = linalg::IndexOp::create(nb, l, 1);
              Value n = linalg::IndexOp::create(nb, l, 3);
              Value tc = linalg::IndexOp::create(nb, l, 4);
              Value t = arith::AddIOp::create(
                  nb, l,
                  arith::MulIOp::create(
                      nb, l, n, arith::ConstantIndexOp::create(nb, l, Lc)),
                  tc);
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{
                      maskedScore(nb, l, a[0], scale, t, i, a[1], a[2])});
            })
            .getResult(0);

    // Online softmax statistics of each split in one pass over its keys:
    // m' = max(m, s), l' = l·exp(m - m') + exp(s - m'); a split without a
    // visible key keeps m = -inf, l = 0 (never exp(-inf + inf) = NaN).
    auto partType = RankedTensorType::get(partShape, f32);
    Value mInit = linalg::FillOp::create(b, loc, constF32(b, loc, negInf),
                                         emptyLike(b, loc, partShape, f32))
                      .getResult(0);
    auto stats = linalg::GenericOp::create(
        b, loc, TypeRange{partType, partType}, ValueRange{scores},
        ValueRange{mInit, zerosF32(b, loc, partShape)},
        ArrayRef<AffineMap>{id5, part5, part5}, {par, par, par, par, red},
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value s = a[0], m = a[1], sum = a[2];
          Value mNew = arith::MaximumFOp::create(nb, l, m, s);
          Value empty = isNegInf(nb, l, mNew);
          Value shift = arith::SelectOp::create(nb, l, empty,
                                                constF32(nb, l, 0.0f), mNew);
          Value rescale = math::ExpOp::create(
              nb, l, arith::SubFOp::create(nb, l, m, shift));
          Value e = math::ExpOp::create(nb, l,
                                        arith::SubFOp::create(nb, l, s, shift));
          Value lNew = arith::AddFOp::create(
              nb, l, arith::MulFOp::create(nb, l, sum, rescale), e);
          linalg::YieldOp::create(nb, l, ValueRange{mNew, lNew});
        });
    Value m = stats.getResult(0), sum = stats.getResult(1);

    // Probabilities within each split, 0 for hidden keys.
    Value probs =
        linalg::GenericOp::create(
            b, loc, TypeRange{scores.getType()}, ValueRange{scores, m, sum},
            ValueRange{emptyLike(b, loc, scoreShape, f32)},
            ArrayRef<AffineMap>{id5, part5, part5, id5}, par5,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value zero = constF32(nb, l, 0.0f);
              Value any = arith::CmpFOp::create(
                  nb, l, arith::CmpFPredicate::OGT, a[2], zero);
              Value shift = arith::SelectOp::create(nb, l, any, a[1], zero);
              Value e = math::ExpOp::create(
                  nb, l, arith::SubFOp::create(nb, l, a[0], shift));
              Value p = arith::DivFOp::create(nb, l, e, a[2]);
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{arith::SelectOp::create(nb, l, any, p, zero)});
            })
            .getResult(0);

    // o_n[b,i,h,n,c] = Σ_tc P · c_kv[b, n·Lc + tc, c]; iteration
    // (b, i, h, n, c, tc). Zero-weight rows are skipped, not multiplied:
    // unwritten cache rows may hold NaN or Inf.
    SmallVector<int64_t> partOutShape = {B, S, H, N, C};
    Value partOut =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(partOutShape, f32)},
            ValueRange{probs, op.getCKv()},
            ValueRange{zerosF32(b, loc, partOutShape)},
            ArrayRef<AffineMap>{pickDims(ctx, 6, {0, 1, 2, 3, 5}),
                                cacheMap(6, 3, 5, 4),
                                pickDims(ctx, 6, {0, 1, 2, 3, 4})},
            {par, par, par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange a) {
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{weightedAddSkipZero(nb, l, a[0], a[1], a[2])});
            })
            .getResult(0);

    // lse_n = m_n + log l_n (-inf for an empty split, as log 0 = -inf).
    AffineMap id4 = b.getMultiDimIdentityMap(4);
    Value lse = linalg::GenericOp::create(
                    b, loc, TypeRange{partType}, ValueRange{m, sum},
                    ValueRange{emptyLike(b, loc, partShape, f32)},
                    ArrayRef<AffineMap>{id4, id4, id4}, {par, par, par, par},
                    [&](OpBuilder &nb, Location l, ValueRange a) {
                      Value zero = constF32(nb, l, 0.0f);
                      Value any = arith::CmpFOp::create(
                          nb, l, arith::CmpFPredicate::OGT, a[1], zero);
                      Value v = arith::AddFOp::create(
                          nb, l, a[0], math::LogOp::create(nb, l, a[1]));
                      linalg::YieldOp::create(
                          nb, l,
                          ValueRange{arith::SelectOp::create(
                              nb, l, any, v, constF32(nb, l, negInf))});
                    })
                    .getResult(0);

    // Merge over the splits: M = max_n lse_n, then Σ_n w_n and
    // Σ_n w_n · o_n with w_n = exp(lse_n - M) (0 when no split saw a key).
    AffineMap row4 = pickDims(ctx, 4, {0, 1, 2});
    Value maxInit = linalg::FillOp::create(b, loc, constF32(b, loc, negInf),
                                           emptyLike(b, loc, rowShape, f32))
                        .getResult(0);
    Value lseMax =
        linalg::GenericOp::create(
            b, loc, TypeRange{maxInit.getType()}, ValueRange{lse},
            ValueRange{maxInit}, ArrayRef<AffineMap>{id4, row4},
            {par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange a) {
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{arith::MaximumFOp::create(nb, l, a[1], a[0])});
            })
            .getResult(0);
    auto weight = [&](OpBuilder &nb, Location l, Value lseN, Value mx) {
      Value e =
          math::ExpOp::create(nb, l, arith::SubFOp::create(nb, l, lseN, mx));
      return arith::SelectOp::create(nb, l, isNegInf(nb, l, mx),
                                     constF32(nb, l, 0.0f), e)
          .getResult();
    };
    Value wSum =
        linalg::GenericOp::create(
            b, loc, TypeRange{maxInit.getType()}, ValueRange{lse, lseMax},
            ValueRange{zerosF32(b, loc, rowShape)},
            ArrayRef<AffineMap>{id4, row4, row4}, {par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange a) {
              linalg::YieldOp::create(
                  nb, l,
                  ValueRange{arith::AddFOp::create(nb, l, a[2],
                                                   weight(nb, l, a[0], a[1]))});
            })
            .getResult(0);
    // out[b,i,h,c] = Σ_n (w_n / Σw) · o_n; iteration (b, i, h, c, n).
    SmallVector<int64_t> outShape = {B, S, H, C};
    AffineMap rowOf5 = pickDims(ctx, 5, {0, 1, 2});
    Value acc =
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(outShape, f32)},
            ValueRange{lse, lseMax, wSum, partOut},
            ValueRange{zerosF32(b, loc, outShape)},
            ArrayRef<AffineMap>{pickDims(ctx, 5, {0, 1, 2, 4}), rowOf5, rowOf5,
                                pickDims(ctx, 5, {0, 1, 2, 4, 3}),
                                pickDims(ctx, 5, {0, 1, 2, 3})},
            {par, par, par, par, red},
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value zero = constF32(nb, l, 0.0f);
              Value w = weight(nb, l, a[0], a[1]);
              Value used = arith::CmpFOp::create(
                  nb, l, arith::CmpFPredicate::OGT, w, zero);
              Value frac = arith::DivFOp::create(nb, l, w, a[2]);
              Value t = arith::MulFOp::create(nb, l, frac, a[3]);
              t = arith::SelectOp::create(nb, l, used, t, zero);
              linalg::YieldOp::create(
                  nb, l, ValueRange{arith::AddFOp::create(nb, l, a[4], t)});
            })
            .getResult(0);

    acc = castTo(b, loc, acc, op.getResult().getType().getElementType());
    rewriter.replaceOp(op, acc);
    return success();
  }

  int64_t minSplitLength;
};

} // namespace

void mlir::dsv3::populateSplitKVAttentionPatterns(RewritePatternSet &patterns,
                                                  int64_t minSplitLength) {
  if (minSplitLength > 0)
    patterns.add<LowerLatentAttentionSplitKV>(patterns.getContext(),
                                              minSplitLength);
}
