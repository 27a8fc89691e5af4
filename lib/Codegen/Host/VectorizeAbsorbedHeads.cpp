//===- VectorizeAbsorbedHeads.cpp - per-head products with FP8 kv_b -------===//
//
// Absorbed MLA multiplies by kv_b_proj per head twice: q_nope · W_UK (the
// reduction runs over W_UK's rows) and o_lat · W_UVᵀ (over its columns). The
// definition dequantizes all of kv_b_proj (H·(nope+V) x C, 33.6 MB of bf16 at
// V3's shapes) before two scalar contractions; this host strategy (Passes.td)
// reads the FP8 codes in the products themselves, rounding each dequantized
// element as the definition does, so nothing is materialized.
//
//===----------------------------------------------------------------------===//
#include "../Common/AbsorbedHeads.h"
#include "KernelBuilders.h"
#include "StrategyTable.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTVECTORIZEABSORBEDHEADS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using host::cIdx;

namespace {

constexpr int64_t kWidth = 8;
constexpr int64_t kBlock = kAbsorbedHeadsBlock;

/// Dequantized weights [row, c .. c + 8) as f32: widened codes times the
/// block scale (one f32 rounding, as the definition's product), rounded to
/// the dequantized type and back.
Value dequantized(OpBuilder &b, Location loc, const HeadWeight &w, Value row,
                  Value c) {
  Type f32 = b.getF32Type();
  auto codeVec = VectorType::get(
      {kWidth}, cast<ShapedType>(w.codes.getType()).getElementType());
  Value pad = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(codeVec.getElementType(), 0.0));
  Value codes = vector::TransferReadOp::create(
      b, loc, codeVec, w.codes, ValueRange{row, c}, pad, ArrayRef<bool>{true});
  Value block = cIdx(b, loc, kBlock);
  Value s = tensor::ExtractOp::create(
      b, loc, w.scale,
      ValueRange{arith::DivUIOp::create(b, loc, row, block),
                 arith::DivUIOp::create(b, loc, c, block)});
  // The codes come out times 2^-8; 2^8 goes into the scale (exact).
  s = arith::MulFOp::create(
      b, loc, s, arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f)));
  auto vecF32 = VectorType::get({kWidth}, f32);
  Value v =
      arith::MulFOp::create(b, loc, host::widenE4M3Scaled(b, loc, codes),
                            vector::BroadcastOp::create(b, loc, vecF32, s));
  if (w.elem != f32) {
    v = arith::TruncFOp::create(b, loc, VectorType::get({kWidth}, w.elem), v);
    v = arith::ExtFOp::create(b, loc, vecF32, v);
  }
  return v;
}

/// W_UK rows ahead of the one being read that the row loop prefetches: its
/// rows are C bytes apart (512 at V3's sizes), one line per row per task, a
/// stride the hardware prefetchers take late; 16 rows ahead is ~1 us.
constexpr int64_t kRowsAhead = 16;

Value toF32(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  if (auto vec = dyn_cast<VectorType>(v.getType()))
    return vec.getElementType() == f32
               ? v
               : arith::ExtFOp::create(b, loc,
                                       VectorType::get(vec.getShape(), f32), v)
                     .getResult();
  return v.getType() == f32 ? v
                            : arith::ExtFOp::create(b, loc, f32, v).getResult();
}

struct VectorizeAbsorbedHeads : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    std::optional<AbsorbedHeadContraction> match =
        matchAbsorbedHeadContraction(op);
    if (!match || host::kernelOf(host::strategyOf(op)) != host::kAbsorbedHeads)
      return failure();
    const HeadWeight *w = &match->w;
    bool overRows = match->overRows;
    auto lhsType = cast<RankedTensorType>(op.getDpsInputs()[0].getType());
    auto outType = cast<RankedTensorType>(op.getResult(0).getType());

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    int64_t B = outType.getDimSize(0), S = outType.getDimSize(1), H = w->heads;
    Value x = op.getDpsInputs()[0];
    Value init = tensor::EmptyOp::create(b, loc, outType.getShape(),
                                         outType.getElementType());
    auto vecF32 = VectorType::get({kWidth}, b.getF32Type());
    Value zeroVec = arith::ConstantOp::create(
        b, loc, vecF32, DenseElementsAttr::get(vecF32, APFloat(0.0f)));
    Value view = host::prefetchView(b, loc, w->codes);
    scf::ForallOp loop;
    if (overRows) {
      // out[b,s,h,c..c+cw) over (head, column tile): per token, the rows of
      // the head's W_UK in order, each dequantized once for the tile's
      // vectors and scaled by the token's q (fused multiply-adds).
      // Columns in tiles of 64 (8 vector accumulators: independent FMA
      // chains that cover the FMA latency), else 32, else 8.
      int64_t cw = kWidth;
      for (int64_t v : {8, 4})
        if (w->cols % (v * kWidth) == 0 && kBlock % (v * kWidth) == 0) {
          cw = v * kWidth;
          break;
        }
      int64_t vecs = cw / kWidth;
      loop = scf::ForallOp::create(
          b, loc,
          ArrayRef<OpFoldResult>{b.getIndexAttr(H),
                                 b.getIndexAttr(w->cols / cw)},
          ValueRange{init}, std::nullopt,
          [&](OpBuilder &b, Location loc, ValueRange args) {
            Value h = args[0], out = args[2];
            Value c0 = arith::MulIOp::create(b, loc, args[1], cIdx(b, loc, cw));
            Value rowBase = arith::AddIOp::create(
                b, loc,
                arith::MulIOp::create(b, loc, h, cIdx(b, loc, w->rowsPerHead)),
                cIdx(b, loc, w->offset));
            SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                                 b.getIndexAttr(0), h, c0};
            SmallVector<OpFoldResult> sizes = {
                b.getIndexAttr(B), b.getIndexAttr(S), b.getIndexAttr(1),
                b.getIndexAttr(cw)};
            Value part = tensor::ExtractSliceOp::create(
                b, loc, out, offsets, sizes,
                SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
            for (int64_t ib = 0; ib < B; ++ib)
              for (int64_t is = 0; is < S; ++is) {
                Value bIdx = cIdx(b, loc, ib), sIdx = cIdx(b, loc, is);
                auto rows = scf::ForOp::create(
                    b, loc, cIdx(b, loc, 0), cIdx(b, loc, w->rows),
                    cIdx(b, loc, 1), SmallVector<Value>(vecs, zeroVec),
                    [&](OpBuilder &b, Location loc, Value j, ValueRange acc) {
                      Value row = arith::AddIOp::create(b, loc, rowBase, j);
                      host::prefetchRead(
                          b, loc, view,
                          {host::clampToLast(
                               b, loc, view, 0,
                               arith::AddIOp::create(b, loc, row,
                                                     cIdx(b, loc, kRowsAhead))),
                           c0});
                      Value q =
                          toF32(b, loc,
                                tensor::ExtractOp::create(
                                    b, loc, x, ValueRange{bIdx, sIdx, h, j}));
                      Value qb = vector::BroadcastOp::create(b, loc, vecF32, q);
                      SmallVector<Value> next;
                      for (int64_t v = 0; v < vecs; ++v) {
                        Value c = arith::AddIOp::create(
                            b, loc, c0, cIdx(b, loc, v * kWidth));
                        next.push_back(vector::FMAOp::create(
                            b, loc, qb, dequantized(b, loc, *w, row, c),
                            acc[v]));
                      }
                      scf::YieldOp::create(b, loc, next);
                    });
                for (int64_t v = 0; v < vecs; ++v)
                  part = vector::TransferWriteOp::create(
                             b, loc, rows.getResult(v), part,
                             ValueRange{bIdx, sIdx, cIdx(b, loc, 0),
                                        cIdx(b, loc, v * kWidth)},
                             ArrayRef<bool>{true})
                             .getResult();
              }
            host::yieldSlice(b, loc, part, out, offsets, sizes);
          });
    } else {
      // out[b,s,h,v..v+R) over (head, tile of R rows v): per token, R dot
      // products of the token's row with the dequantized W_UV rows, in
      // vector lanes summed as a tree. The R rows share each load of the
      // token's vector, and their R accumulators are independent FMA
      // chains (one chain waits on an FMA's latency every step). Rows do
      // not change any element's additions.
      int64_t tileRows = 1;
      for (int64_t r : {8, 4, 2})
        if (w->rows % r == 0) {
          tileRows = r;
          break;
        }
      loop = scf::ForallOp::create(
          b, loc,
          ArrayRef<OpFoldResult>{b.getIndexAttr(H),
                                 b.getIndexAttr(w->rows / tileRows)},
          ValueRange{init}, std::nullopt,
          [&](OpBuilder &b, Location loc, ValueRange args) {
            Value h = args[0], out = args[2];
            Value v0 =
                arith::MulIOp::create(b, loc, args[1], cIdx(b, loc, tileRows));
            Value row0 = arith::AddIOp::create(
                b, loc,
                arith::MulIOp::create(b, loc, h, cIdx(b, loc, w->rowsPerHead)),
                arith::AddIOp::create(b, loc, v0, cIdx(b, loc, w->offset)));
            SmallVector<Value> rowIdx;
            for (int64_t r = 0; r < tileRows; ++r)
              rowIdx.push_back(
                  arith::AddIOp::create(b, loc, row0, cIdx(b, loc, r)));
            SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                                 b.getIndexAttr(0), h, v0};
            SmallVector<OpFoldResult> sizes = {
                b.getIndexAttr(B), b.getIndexAttr(S), b.getIndexAttr(1),
                b.getIndexAttr(tileRows)};
            Value part = tensor::ExtractSliceOp::create(
                b, loc, out, offsets, sizes,
                SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
            Type xElem = lhsType.getElementType();
            Value pad =
                arith::ConstantOp::create(b, loc, b.getFloatAttr(xElem, 0.0));
            // The next tile's rows (tileRows rows of C bytes side by side,
            // short streams), one line at a time, before this tile's first
            // token reads its own: a loop over the lines, whatever C is.
            scf::ForOp::create(
                b, loc, cIdx(b, loc, 0), cIdx(b, loc, w->cols),
                cIdx(b, loc, host::kCacheLine), ValueRange{},
                [&](OpBuilder &b, Location loc, Value c, ValueRange) {
                  for (int64_t r = 0; r < tileRows; ++r)
                    host::prefetchRead(
                        b, loc, view,
                        {host::clampToLast(
                             b, loc, view, 0,
                             arith::AddIOp::create(b, loc, rowIdx[r],
                                                   cIdx(b, loc, tileRows))),
                         c});
                  scf::YieldOp::create(b, loc);
                });
            for (int64_t ib = 0; ib < B; ++ib)
              for (int64_t is = 0; is < S; ++is) {
                Value bIdx = cIdx(b, loc, ib), sIdx = cIdx(b, loc, is);
                auto cols = scf::ForOp::create(
                    b, loc, cIdx(b, loc, 0), cIdx(b, loc, w->cols),
                    cIdx(b, loc, kWidth), SmallVector<Value>(tileRows, zeroVec),
                    [&](OpBuilder &b, Location loc, Value c, ValueRange acc) {
                      Value xv =
                          toF32(b, loc,
                                vector::TransferReadOp::create(
                                    b, loc, VectorType::get({kWidth}, xElem), x,
                                    ValueRange{bIdx, sIdx, h, c}, pad,
                                    ArrayRef<bool>{true}));
                      SmallVector<Value> next;
                      for (int64_t r = 0; r < tileRows; ++r)
                        next.push_back(vector::FMAOp::create(
                            b, loc, xv, dequantized(b, loc, *w, rowIdx[r], c),
                            acc[r]));
                      scf::YieldOp::create(b, loc, next);
                    });
                SmallVector<Value> sums;
                for (int64_t r = 0; r < tileRows; ++r)
                  sums.push_back(vector::ReductionOp::create(
                      b, loc, vector::CombiningKind::ADD, cols.getResult(r),
                      arith::FastMathFlags::reassoc));
                Value c0 = cIdx(b, loc, 0);
                part =
                    vector::TransferWriteOp::create(
                        b, loc,
                        vector::FromElementsOp::create(
                            b, loc, VectorType::get({tileRows}, b.getF32Type()),
                            sums),
                        part, ValueRange{bIdx, sIdx, c0, c0},
                        ArrayRef<bool>{true})
                        .getResult();
              }
            host::yieldSlice(b, loc, part, out, offsets, sizes);
          });
    }
    rewriter.replaceOp(op, loop.getResult(0));
    return success();
  }
};

struct Dsv3HostVectorizeAbsorbedHeadsPass
    : dsv3::impl::Dsv3HostVectorizeAbsorbedHeadsBase<
          Dsv3HostVectorizeAbsorbedHeadsPass> {
  void runOnOperation() override {
    if (failed(host::verifyStrategies(getOperation())))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    patterns.add<VectorizeAbsorbedHeads>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

bool mlir::dsv3::host::isAbsorbedHeadContraction(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  return generic && matchAbsorbedHeadContraction(generic).has_value();
}
