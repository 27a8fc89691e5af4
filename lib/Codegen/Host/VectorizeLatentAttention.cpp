//===- VectorizeLatentAttention.cpp - MQA-shaped host attention core ------===//
//
// In absorbed MLA every head attends over the same latent cache, so decode
// attention is two matrix products with the heads as rows: scores
// [heads, keys] = q · c_kvᵀ (+ q_pe · k_peᵀ) and out [heads, C] = P · c_kv.
// The linalg definition of dsv3.latent_attention loops per (head, key) over
// scalars; this host strategy (Passes.td) runs the two products as vector
// kernels that read each cache row once per tile of heads and keep the
// accumulators in registers, with upstream's linalg.softmax between them.
//
//===----------------------------------------------------------------------===//
#include "KernelBuilders.h"
#include "StrategyTable.h"
#include "dsv3/IR/Dsv3Attention.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTVECTORIZELATENTATTENTION
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using host::cIdx;

namespace {

/// f32 lanes per vector (AVX2).
constexpr int64_t kWidth = 8;

Value cF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// Element `i` of a 1-D integer tensor as an index.
Value extractIndex(OpBuilder &b, Location loc, Value tensor, Value i) {
  Value v = tensor::ExtractOp::create(b, loc, tensor, i);
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

/// `width` elements of `source` at `indices` (the last one contiguous), as
/// f32 lanes.
Value readF32(OpBuilder &b, Location loc, Value source, ValueRange indices) {
  Type elem = cast<ShapedType>(source.getType()).getElementType();
  Value pad = arith::ConstantOp::create(b, loc, b.getFloatAttr(elem, 0.0));
  Value v = vector::TransferReadOp::create(
      b, loc, VectorType::get({kWidth}, elem), source, indices, pad,
      ArrayRef<bool>{true});
  if (!elem.isF32())
    v = arith::ExtFOp::create(b, loc, VectorType::get({kWidth}, b.getF32Type()),
                              v);
  return v;
}

struct VectorizeLatentAttention : OpRewritePattern<LatentAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LatentAttentionOp op,
                                PatternRewriter &rewriter) const override {
    auto qType = op.getQNope().getType();
    auto peType = op.getQPe().getType();
    auto cType = op.getCKv().getType();
    auto yType = op.getResult().getType();
    // The table's conditions (no lse result, static batch, heads and
    // widths, widths whole vectors, bound-by-kv-len) hold for any op whose
    // strategy names this kernel.
    DictionaryAttr strategy = host::strategyOf(op);
    if (host::kernelOf(strategy) != host::kMQATiles)
      return rewriter.notifyMatchFailure(op, "strategy is not mqa_tiles");
    // Keys per block of the weighted sum: by default 256 keys x 16 bf16
    // columns of the cache (8 KiB) stay in L1 while every head passes over
    // them.
    const int64_t keyBlockSize = host::mqaTilesOf(op, strategy).keyBlock;
    int64_t B = qType.getDimSize(0), H = qType.getDimSize(2),
            C = qType.getDimSize(3), R = peType.getDimSize(3),
            L = cType.getDimSize(1);

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Type f32 = b.getF32Type();
    auto vecF32 = VectorType::get({kWidth}, f32);
    Value qNope = host::widenToF32(b, loc, op.getQNope());
    Value qPe = host::widenToF32(b, loc, op.getQPe());
    Value cKv = op.getCKv(), kPe = op.getKPe();
    Value startPos = op.getStartPos(), kvLen = op.getKvLen();
    OpFoldResult sSize = tensor::getMixedSize(b, loc, op.getQNope(), 1);

    // Keys t >= n = clamp(max_b kv_len[b], 0, L) are hidden from every
    // query: neither product visits them.
    Value n = buildVisibleKeyBound(b, loc, kvLen, L);

    // Scores [B, S, H, n]: pairs of cache rows in parallel; per pair and
    // query, register tiles of 2 rows x 6 heads (then 4, 2, 1 heads; a lone
    // last row takes tiles of 8) whose accumulators stay in registers: each
    // widened cache vector feeds the tile's heads and each query vector its
    // rows. Hidden keys get -inf (t <= start_pos + i and t < kv_len,
    // docs/semantics.md §10.5).
    float scale = op.getScale().convertToFloat();
    Value negInf = cF32(b, loc, -std::numeric_limits<float>::infinity());
    Value scoresInit = tensor::EmptyOp::create(
        b, loc,
        SmallVector<OpFoldResult>{b.getIndexAttr(B), sSize, b.getIndexAttr(H),
                                  n},
        f32);
    Value pairs = arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, n, cIdx(b, loc, 1)),
        cIdx(b, loc, 2));
    auto scoresLoop = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(B), pairs},
        ValueRange{scoresInit}, std::nullopt,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value ib = args[0], out = args[2];
          Value t0 = arith::MulIOp::create(b, loc, args[1], cIdx(b, loc, 2));
          Value rows = arith::MinUIOp::create(
              b, loc, cIdx(b, loc, 2), arith::SubIOp::create(b, loc, n, t0));
          SmallVector<OpFoldResult> offsets = {ib, b.getIndexAttr(0),
                                               b.getIndexAttr(0), t0};
          SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), sSize,
                                             b.getIndexAttr(H), rows};
          // Full-rank slices: a rank-reduced [S, H] would be ambiguous
          // when S = 1.
          Value col = tensor::ExtractSliceOp::create(
              b, loc, out, offsets, sizes,
              SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
          Value start = extractIndex(b, loc, startPos, ib);
          Value len = extractIndex(b, loc, kvLen, ib);
          Value sEnd = getValueOrCreateConstantIndexOp(b, loc, sSize);
          // Scores of `numRows` rows from t0 for every query.
          auto rowScores = [&](OpBuilder &b, Location loc, int64_t numRows) {
            SmallVector<Value> keys;
            for (int64_t r = 0; r < numRows; ++r)
              keys.push_back(
                  arith::AddIOp::create(b, loc, t0, cIdx(b, loc, r)));
            SmallVector<int64_t> tiles = numRows == 2
                                             ? SmallVector<int64_t>{6, 4, 2, 1}
                                             : SmallVector<int64_t>{8, 4, 2, 1};
            return scf::ForOp::create(
                       b, loc, cIdx(b, loc, 0), sEnd, cIdx(b, loc, 1),
                       ValueRange{col},
                       [&](OpBuilder &b, Location loc, Value i, ValueRange in) {
                         Value last = arith::AddIOp::create(b, loc, start, i);
                         SmallVector<Value> visible;
                         for (Value t : keys)
                           visible.push_back(arith::AndIOp::create(
                               b, loc,
                               arith::CmpIOp::create(
                                   b, loc, arith::CmpIPredicate::sle, t, last),
                               arith::CmpIOp::create(
                                   b, loc, arith::CmpIPredicate::slt, t, len)));
                         Value res = host::forEachTile(
                             b, loc, b.getIndexAttr(0), b.getIndexAttr(H),
                             tiles, in[0],
                             [&](OpBuilder &b, Location loc, Value h0,
                                 int64_t tile, Value col) {
                               return scoreTile(b, loc, qNope, qPe, cKv, kPe,
                                                ib, i, keys, h0, tile, C, R,
                                                scale, visible, negInf, col);
                             });
                         scf::YieldOp::create(b, loc, res);
                       })
                .getResult(0);
          };
          Value two = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            rows, cIdx(b, loc, 2));
          col = scf::IfOp::create(
                    b, loc, two,
                    [&](OpBuilder &b, Location loc) {
                      scf::YieldOp::create(b, loc, rowScores(b, loc, 2));
                    },
                    [&](OpBuilder &b, Location loc) {
                      scf::YieldOp::create(b, loc, rowScores(b, loc, 1));
                    })
                    .getResult(0);
          host::yieldSlice(b, loc, col, out, offsets, sizes);
        });
    Value scores = scoresLoop.getResult(0);

    // Upstream's softmax over the keys, decomposed here into linalg ops
    // (max, exp of the shifted scores, sum, division). A query without a
    // visible key gets NaN rows here, which the product below never reads.
    auto softmax = linalg::SoftmaxOp::create(
        b, loc, TypeRange{scores.getType()}, scores,
        tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, scores),
                                f32),
        /*dimension=*/3);
    FailureOr<SmallVector<Value>> decomposed = softmax.decomposeOperation(b);
    if (failed(decomposed))
      return rewriter.notifyMatchFailure(op, "softmax did not decompose");
    Value probs = (*decomposed)[0];
    rewriter.eraseOp(softmax);

    // out [B, S, H, C] = P · c_kv: (query, 16 columns) blocks in parallel;
    // per block, the visible keys t < min(start_pos + i + 1, kv_len, n) in
    // blocks of keyBlockSize, and per key block every head in tiles of 4 (8
    // accumulators) over its keys in order, each cache vector widened once
    // for the tile's heads. The key block's cache columns stay in L1 while
    // the 128 heads pass over them (the cache is read once per block, not
    // once per head tile); the sums wait in an f32 result between key
    // blocks, so each element is the same chain of fused multiply-adds over
    // t as without blocking. Hidden rows are never read, so unwritten cache
    // rows (even NaN) do no harm, and a query without visible keys gets 0.
    int64_t th = H % 4 == 0 ? 4 : H % 2 == 0 ? 2 : 1;
    int64_t cw = C % (2 * kWidth) == 0 ? 2 * kWidth : kWidth;
    Type outElem = yType.getElementType();
    SmallVector<OpFoldResult> outSizes = {b.getIndexAttr(B), sSize,
                                          b.getIndexAttr(H), b.getIndexAttr(C)};
    Value outInit = host::zerosF32(b, loc, outSizes);
    auto pvLoop = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{b.getIndexAttr(B), sSize,
                               b.getIndexAttr(C / cw)},
        ValueRange{outInit}, std::nullopt,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value ib = args[0], ii = args[1], out = args[3];
          Value c0 = arith::MulIOp::create(b, loc, args[2], cIdx(b, loc, cw));
          Value start = extractIndex(b, loc, startPos, ib);
          Value len = extractIndex(b, loc, kvLen, ib);
          Value last = arith::AddIOp::create(
              b, loc, arith::AddIOp::create(b, loc, start, ii),
              cIdx(b, loc, 1));
          last = arith::MinSIOp::create(b, loc, last, len);
          last = arith::MinSIOp::create(b, loc, last, n);
          // Negative when start_pos + i + 1 and kv_len are: no key at all.
          last = arith::MaxSIOp::create(b, loc, last, cIdx(b, loc, 0));
          int64_t vecs = cw / kWidth;
          SmallVector<OpFoldResult> offsets = {ib, ii, b.getIndexAttr(0), c0};
          SmallVector<OpFoldResult> sizes = {
              b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(H),
              b.getIndexAttr(cw)};
          Value part = tensor::ExtractSliceOp::create(
              b, loc, out, offsets, sizes,
              SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
          auto keyBlock = [&](OpBuilder &b, Location loc, Value t0,
                              Value part) {
            Value t1 = arith::MinSIOp::create(
                b, loc,
                arith::AddIOp::create(b, loc, t0, cIdx(b, loc, keyBlockSize)),
                last);
            return scf::ForOp::create(
                       b, loc, cIdx(b, loc, 0), cIdx(b, loc, H),
                       cIdx(b, loc, th), ValueRange{part},
                       [&](OpBuilder &b, Location loc, Value h0,
                           ValueRange in) {
                         auto at = [&](int64_t j, int64_t c) {
                           return SmallVector<Value>{
                               cIdx(b, loc, 0), cIdx(b, loc, 0),
                               arith::AddIOp::create(b, loc, h0,
                                                     cIdx(b, loc, j)),
                               cIdx(b, loc, c * kWidth)};
                         };
                         SmallVector<Value> init;
                         for (int64_t j = 0; j < th; ++j)
                           for (int64_t c = 0; c < vecs; ++c)
                             init.push_back(readF32(b, loc, in[0], at(j, c)));
                         auto keys = scf::ForOp::create(
                             b, loc, t0, t1, cIdx(b, loc, 1), init,
                             [&](OpBuilder &b, Location loc, Value t,
                                 ValueRange acc) {
                               SmallVector<Value> v;
                               for (int64_t c = 0; c < vecs; ++c)
                                 v.push_back(
                                     readF32(b, loc, cKv,
                                             {ib, t,
                                              arith::AddIOp::create(
                                                  b, loc, c0,
                                                  cIdx(b, loc, c * kWidth))}));
                               SmallVector<Value> next;
                               for (int64_t j = 0; j < th; ++j) {
                                 Value h = arith::AddIOp::create(
                                     b, loc, h0, cIdx(b, loc, j));
                                 Value p = tensor::ExtractOp::create(
                                     b, loc, probs, ValueRange{ib, ii, h, t});
                                 Value pb = vector::BroadcastOp::create(
                                     b, loc, vecF32, p);
                                 for (int64_t c = 0; c < vecs; ++c)
                                   next.push_back(vector::FMAOp::create(
                                       b, loc, pb, v[c], acc[j * vecs + c]));
                               }
                               scf::YieldOp::create(b, loc, next);
                             });
                         Value res = in[0];
                         for (int64_t j = 0; j < th; ++j)
                           for (int64_t c = 0; c < vecs; ++c)
                             res = vector::TransferWriteOp::create(
                                       b, loc, keys.getResult(j * vecs + c),
                                       res, at(j, c), ArrayRef<bool>{true})
                                       .getResult();
                         scf::YieldOp::create(b, loc, res);
                       })
                .getResult(0);
          };
          part =
              scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), last, cIdx(b, loc, keyBlockSize),
                  ValueRange{part},
                  [&](OpBuilder &b, Location loc, Value t0, ValueRange in) {
                    scf::YieldOp::create(b, loc, keyBlock(b, loc, t0, in[0]));
                  })
                  .getResult(0);
          host::yieldSlice(b, loc, part, out, offsets, sizes);
        });
    rewriter.replaceOp(
        op, host::castElements(b, loc, pvLoop.getResult(0), outElem));
    return success();
  }

  /// Scores of heads [h0, h0 + tile) of query i against cache rows `keys`
  /// (t0, t0 + 1, ...), inserted into `col` ([1, S, H, rows]) at
  /// [0, i, h, t - t0]. Each (row, head) sums in its own lanes in the same
  /// order whatever the tile, so the tiling does not change the result.
  static Value scoreTile(OpBuilder &b, Location loc, Value qNope, Value qPe,
                         Value cKv, Value kPe, Value ib, Value i,
                         ArrayRef<Value> keys, Value h0, int64_t tile,
                         int64_t C, int64_t R, float scale,
                         ArrayRef<Value> visible, Value negInf, Value col) {
    auto vecF32 = VectorType::get({kWidth}, b.getF32Type());
    Value zero = arith::ConstantOp::create(
        b, loc, vecF32, DenseElementsAttr::get(vecF32, APFloat(0.0f)));
    const int64_t rows = keys.size();
    SmallVector<Value> heads;
    for (int64_t j = 0; j < tile; ++j)
      heads.push_back(arith::AddIOp::create(b, loc, h0, cIdx(b, loc, j)));
    // Σ_c q_nope·c_kv, then Σ_r q_pe·k_pe, in the same lanes; accumulator
    // r * tile + j is (row r, head j).
    SmallVector<Value> acc(rows * tile, zero);
    for (auto [query, cache, width] :
         {std::tuple{qNope, cKv, C}, std::tuple{qPe, kPe, R}}) {
      // (Lambdas may not capture structured bindings before C++20.)
      Value q = query, key = cache;
      auto loop = scf::ForOp::create(
          b, loc, cIdx(b, loc, 0), cIdx(b, loc, width), cIdx(b, loc, kWidth),
          acc, [&](OpBuilder &b, Location loc, Value k, ValueRange in) {
            SmallVector<Value> kv;
            for (Value t : keys)
              kv.push_back(readF32(b, loc, key, {ib, t, k}));
            SmallVector<Value> next(rows * tile);
            for (int64_t j = 0; j < tile; ++j) {
              Value qv = readF32(b, loc, q, {ib, i, heads[j], k});
              for (int64_t r = 0; r < rows; ++r)
                next[r * tile + j] =
                    vector::FMAOp::create(b, loc, qv, kv[r], in[r * tile + j]);
            }
            scf::YieldOp::create(b, loc, next);
          });
      acc.assign(loop.getResults().begin(), loop.getResults().end());
    }
    Value s = cF32(b, loc, scale);
    for (int64_t j = 0; j < tile; ++j) {
      SmallVector<Value> scores;
      for (int64_t r = 0; r < rows; ++r) {
        // A tree reduction of the lanes: the order of the sum over the
        // latent dimension is not part of the semantics.
        Value raw = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, acc[r * tile + j],
            arith::FastMathFlags::reassoc);
        scores.push_back(arith::SelectOp::create(
            b, loc, visible[r], arith::MulFOp::create(b, loc, raw, s), negInf));
      }
      // A head's scores for the tile's rows are contiguous: one vector
      // write (fewer tensor ops for one-shot bufferization to analyze).
      Value v = vector::FromElementsOp::create(
          b, loc, VectorType::get({rows}, b.getF32Type()), scores);
      Value c0 = cIdx(b, loc, 0);
      col = vector::TransferWriteOp::create(b, loc, v, col,
                                            ValueRange{c0, i, heads[j], c0},
                                            ArrayRef<bool>{true})
                .getResult();
    }
    return col;
  }
};

struct Dsv3HostVectorizeLatentAttentionPass
    : dsv3::impl::Dsv3HostVectorizeLatentAttentionBase<
          Dsv3HostVectorizeLatentAttentionPass> {
  void runOnOperation() override {
    if (failed(host::verifyStrategies(getOperation())))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    patterns.add<VectorizeLatentAttention>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
