//===- VectorizeFP8Linear.cpp - vector loops for weight-only FP8 linear ---===//
//
// The generic linalg form of dsv3.linear indexes the block scale with
// floordiv maps, which upstream vectorization does not take, and its scalar
// loops reload the accumulator every K step. Decode-shaped linears (small M)
// are weight-bandwidth bound, so the host gets a direct form (Passes.td):
// output rows n split over the threads (scf.forall), and per row, tiles of
// up to 8 tokens share each FP8 weight vector, widened once in registers.
// The same row kernel serves bf16/f32 weights (lm_head) and, per (row block,
// expert), the FP8 grouped GEMM of the MoE layer.
//
// The widening is exact and cheap on AVX2 + F16C: e4m3's exponent and
// mantissa bits, moved into an f16's, give the same number times 2^-8 (also
// for subnormals), so sign-extend, shift, mask and vcvtph2ps widen 8 codes
// in four instructions, and the 2^8 goes into the block scale. Finite codes
// are exact; the two NaN codes read as +-480 (checkpoints hold none).
//
//===----------------------------------------------------------------------===//
#include "KernelBuilders.h"
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

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTVECTORIZEFP8LINEAR
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using host::widenE4M3Scaled;
using host::widenToF32;
using host::yieldSlice;

namespace {

/// Token tiles, largest first: each FP8 weight vector feeds this many
/// accumulators (8 x vector<8xf32> plus the weight and activation vectors
/// fit AVX2's 16 registers).
constexpr int64_t kTokenTiles[] = {8, 4, 2, 1};

/// The row kernel both patterns share (FP8 block-scaled, or bf16/f32 weights
/// without a scale): output element [m, n] of one
/// weight matrix (a linear's, or expert e's of a stacked [E, N, K] weight),
/// for tokens in register tiles.
struct RowKernel {
  Value x;             // [M, K] f32
  Value weight, scale; // [N, K] / [nb, kb], or [E, N, K] / [E, nb, kb]
  Value expert;        // null for a plain linear
  int64_t k, width;
  Type outElem;

  /// Output elements [m0 + t, n] for t < tile, inserted into `dest` at
  /// [m0 + t - rowBase, n - colBase].
  Value tile(OpBuilder &b, Location loc, Value n, Value m0, int64_t tile,
             Value dest, Value rowBase, Value colBase) const {
    auto cIdx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    Type f32 = b.getF32Type();
    auto vecF32 = VectorType::get({width}, f32);
    auto wElem = cast<ShapedType>(weight.getType()).getElementType();
    Value zeroVec = arith::ConstantOp::create(
        b, loc, vecF32, DenseElementsAttr::get(vecF32, APFloat(0.0f)));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value twoTo8 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f));
    Value wPad = arith::ConstantOp::create(b, loc, b.getFloatAttr(wElem, 0.0));
    SmallVector<bool> inBounds = {true};
    auto withExpert = [&](ValueRange idx) {
      SmallVector<Value> all;
      if (expert)
        all.push_back(expert);
      all.append(idx.begin(), idx.end());
      return all;
    };
    // Scaled weights sum per 128-wide block (each block has its scale);
    // unscaled ones (bf16, f32) in one block over K.
    const int64_t block = scale ? kQuantBlock : k;
    const bool fp8 = isa<Float8E4M3FNType>(wElem);
    Value nBlock = arith::DivUIOp::create(b, loc, n, cIdx(kQuantBlock));
    SmallVector<Value> tokenIdx, zeros(tile, zero);
    for (int64_t t = 0; t < tile; ++t)
      tokenIdx.push_back(arith::AddIOp::create(b, loc, m0, cIdx(t)));
    auto blocks = scf::ForOp::create(
        b, loc, cIdx(0), cIdx(llvm::divideCeil(k, block)), cIdx(1), zeros,
        [&](OpBuilder &b, Location loc, Value ib, ValueRange acc) {
          Value k0 = arith::MulIOp::create(b, loc, ib, cIdx(block));
          Value kEnd = arith::MinUIOp::create(
              b, loc, arith::AddIOp::create(b, loc, k0, cIdx(block)), cIdx(k));
          SmallVector<Value> zeroVecs(tile, zeroVec);
          auto inner = scf::ForOp::create(
              b, loc, k0, kEnd, cIdx(width), zeroVecs,
              [&](OpBuilder &b, Location loc, Value ik, ValueRange vacc) {
                Value codes = vector::TransferReadOp::create(
                    b, loc, VectorType::get({width}, wElem), weight,
                    withExpert({n, ik}), wPad, inBounds);
                Value w = codes;
                if (fp8)
                  w = widenE4M3Scaled(b, loc, codes);
                else if (wElem != f32)
                  w = arith::ExtFOp::create(b, loc, vecF32, codes);
                SmallVector<Value> next;
                for (int64_t t = 0; t < tile; ++t) {
                  Value xv = vector::TransferReadOp::create(
                      b, loc, vecF32, x, ValueRange{tokenIdx[t], ik}, zero,
                      inBounds);
                  next.push_back(vector::FMAOp::create(b, loc, xv, w, vacc[t]));
                }
                scf::YieldOp::create(b, loc, next);
              });
          Value s;
          if (scale) {
            s = tensor::ExtractOp::create(b, loc, scale,
                                          withExpert({nBlock, ib}));
            if (!s.getType().isF32())
              s = arith::ExtFOp::create(b, loc, f32, s);
            // Exact: a power of two (an f32 scale is far from overflow).
            if (fp8)
              s = arith::MulFOp::create(b, loc, s, twoTo8);
          }
          SmallVector<Value> next;
          for (int64_t t = 0; t < tile; ++t) {
            // A tree reduction of the lanes: the order of the K sum is not
            // part of the semantics.
            Value sum = vector::ReductionOp::create(
                b, loc, vector::CombiningKind::ADD, inner.getResult(t),
                arith::FastMathFlags::reassoc);
            if (s)
              sum = arith::MulFOp::create(b, loc, sum, s);
            next.push_back(arith::AddFOp::create(b, loc, acc[t], sum));
          }
          scf::YieldOp::create(b, loc, next);
        });
    Value col = arith::SubIOp::create(b, loc, n, colBase);
    for (int64_t t = 0; t < tile; ++t) {
      Value v = blocks.getResult(t);
      if (outElem != f32)
        v = arith::TruncFOp::create(b, loc, outElem, v);
      Value row = arith::SubIOp::create(b, loc, tokenIdx[t], rowBase);
      dest = tensor::InsertOp::create(b, loc, v, dest, ValueRange{row, col});
    }
    return dest;
  }

  /// Tokens [begin, end) of output row n in tiles of 8, then at most one
  /// tile each of 4, 2 and 1 (only the tiles a static count needs).
  Value tokens(OpBuilder &b, Location loc, Value n, OpFoldResult begin,
               OpFoldResult end, Value dest, Value rowBase,
               Value colBase) const {
    auto cIdx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    std::optional<int64_t> lo = getConstantIntValue(begin),
                           hi = getConstantIntValue(end);
    Value done = getValueOrCreateConstantIndexOp(b, loc, begin);
    Value endV = getValueOrCreateConstantIndexOp(b, loc, end);
    int64_t doneStatic = lo.value_or(0);
    for (int64_t tile : kTokenTiles) {
      // The accumulators of a tile (tile x width f32) stay within 8 AVX2
      // registers.
      if (tile * width > 64)
        continue;
      Value stop;
      if (lo && hi) {
        int64_t e = *lo + (*hi - *lo) / tile * tile;
        if (e == doneStatic)
          continue;
        doneStatic = e;
        stop = cIdx(e);
      } else {
        Value count = arith::SubIOp::create(b, loc, endV, done);
        stop = arith::AddIOp::create(
            b, loc, done,
            arith::MulIOp::create(
                b, loc, arith::DivUIOp::create(b, loc, count, cIdx(tile)),
                cIdx(tile)));
      }
      dest = scf::ForOp::create(
                 b, loc, done, stop, cIdx(tile), ValueRange{dest},
                 [&](OpBuilder &b, Location loc, Value m0, ValueRange in) {
                   scf::YieldOp::create(b, loc,
                                        this->tile(b, loc, n, m0, tile, in[0],
                                                   rowBase, colBase));
                 })
                 .getResult(0);
      done = stop;
    }
    return dest;
  }
};

struct VectorizeFP8Linear : OpRewritePattern<LinearOp> {
  VectorizeFP8Linear(MLIRContext *ctx, int64_t width)
      : OpRewritePattern(ctx), width(width) {}

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    auto yType = op.getResult().getType();
    // Weight-only FP8 (block-scaled), or a bf16/f32 weight: the weight is
    // read once, widened in registers.
    Type wElem = wType.getElementType();
    bool fp8 = isa<Float8E4M3FNType>(wElem);
    if (op.getActQuant() != ActivationQuant::none ||
        !(fp8 || wElem.isBF16() || wElem.isF32()) ||
        fp8 != static_cast<bool>(op.getWeightScaleInv()))
      return rewriter.notifyMatchFailure(
          op, "not a weight-only FP8 linear or a bf16/f32 one");
    int64_t k = xType.getDimSize(1), n = wType.getDimSize(0);
    if (k % width != 0 || kQuantBlock % width != 0)
      return rewriter.notifyMatchFailure(op, "K not a multiple of the width");

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    OpFoldResult mSize = tensor::getMixedSize(b, loc, op.getInput(), 0);
    RowKernel kernel{widenToF32(b, loc, op.getInput()),
                     op.getWeight(),
                     op.getWeightScaleInv(),
                     /*expert=*/Value(),
                     k,
                     width,
                     yType.getElementType()};

    // Rows in parallel, each writing its own column.
    Value init = tensor::EmptyOp::create(
        b, loc, SmallVector<OpFoldResult>{mSize, b.getIndexAttr(n)},
        yType.getElementType());
    auto rows = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(n)}, ValueRange{init},
        std::nullopt, [&](OpBuilder &b, Location loc, ValueRange args) {
          Value in = args[0], out = args[1];
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), in};
          SmallVector<OpFoldResult> sizes = {mSize, b.getIndexAttr(1)};
          SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
          Value col = tensor::ExtractSliceOp::create(b, loc, out, offsets,
                                                     sizes, strides);
          Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
          col =
              kernel.tokens(b, loc, in, b.getIndexAttr(0), mSize, col, c0, in);
          yieldSlice(b, loc, col, out, offsets, sizes);
        });
    rewriter.replaceOp(op, rows.getResult(0));
    return success();
  }

  int64_t width;
};

/// Output rows per (row block, expert) iteration of the grouped GEMM: each
/// reads 16 contiguous weight rows of the expert.
constexpr int64_t kGroupedRowBlock = 16;

struct VectorizeFP8GroupedMatmul : OpRewritePattern<GroupedMatmulOp> {
  VectorizeFP8GroupedMatmul(MLIRContext *ctx, int64_t width)
      : OpRewritePattern(ctx), width(width) {}

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    auto yType = op.getResult().getType();
    if (!isa<Float8E4M3FNType>(wType.getElementType()) ||
        !op.getWeightScaleInv())
      return rewriter.notifyMatchFailure(op, "not a block-scaled FP8 weight");
    // Segments [offsets[e], offsets[e + 1]) are the definition's rows of
    // expert e when the offsets are nondecreasing from 0, as
    // dsv3.expert_dispatch makes them; other offsets keep the definition.
    if (!op.getOffsets().getDefiningOp<ExpertDispatchOp>())
      return rewriter.notifyMatchFailure(op, "offsets not from a dispatch");
    int64_t k = xType.getDimSize(1), e = wType.getDimSize(0),
            n = wType.getDimSize(1);
    if (k % width != 0 || kQuantBlock % width != 0)
      return rewriter.notifyMatchFailure(op, "K not a multiple of the width");

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    OpFoldResult rSize = tensor::getMixedSize(b, loc, op.getInput(), 0);
    Value rEnd = getValueOrCreateConstantIndexOp(b, loc, rSize);
    Value x = widenToF32(b, loc, op.getInput());
    Type outElem = yType.getElementType();
    // Rows past offsets[E] (the unused tail) stay 0.
    Value init =
        linalg::FillOp::create(
            b, loc,
            ValueRange{arith::ConstantOp::create(b, loc,
                                                 b.getFloatAttr(outElem, 0.0))},
            ValueRange{tensor::EmptyOp::create(
                b, loc, SmallVector<OpFoldResult>{rSize, b.getIndexAttr(n)},
                outElem)})
            .getResult(0);
    int64_t blocks = llvm::divideCeil(n, kGroupedRowBlock);
    // (row block, expert) pairs in parallel: the threads split the row
    // blocks, so each thread reads its share of every routed expert, once.
    auto grid = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{b.getIndexAttr(blocks), b.getIndexAttr(e)},
        ValueRange{init}, std::nullopt,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value ib = args[0], ie = args[1], out = args[2];
          auto cIdx = [&](int64_t v) {
            return arith::ConstantIndexOp::create(b, loc, v).getResult();
          };
          auto offsetAt = [&](Value i) {
            Value o = tensor::ExtractOp::create(b, loc, op.getOffsets(), i);
            Value idx = arith::IndexCastOp::create(b, loc, b.getIndexType(), o);
            // Within [0, R] whatever the offsets say.
            return arith::MinSIOp::create(
                b, loc, arith::MaxSIOp::create(b, loc, idx, cIdx(0)), rEnd);
          };
          Value lo = offsetAt(ie);
          Value hi = arith::MaxSIOp::create(
              b, loc, offsetAt(arith::AddIOp::create(b, loc, ie, cIdx(1))), lo);
          Value n0 = arith::MulIOp::create(b, loc, ib, cIdx(kGroupedRowBlock));
          OpFoldResult nSize = b.getIndexAttr(kGroupedRowBlock);
          Value nEnd = cIdx(n);
          if (n % kGroupedRowBlock != 0) {
            nSize =
                arith::MinUIOp::create(b, loc, cIdx(kGroupedRowBlock),
                                       arith::SubIOp::create(b, loc, nEnd, n0))
                    .getResult();
          }
          Value count = arith::SubIOp::create(b, loc, hi, lo);
          SmallVector<OpFoldResult> offsets = {lo, n0};
          SmallVector<OpFoldResult> sizes = {count, nSize};
          SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
          Value part = tensor::ExtractSliceOp::create(b, loc, out, offsets,
                                                      sizes, strides);
          RowKernel kernel{x,     op.getWeight(), op.getWeightScaleInv(), ie, k,
                           width, outElem};
          Value nStop = arith::AddIOp::create(
              b, loc, n0, getValueOrCreateConstantIndexOp(b, loc, nSize));
          part =
              scf::ForOp::create(
                  b, loc, n0, nStop, cIdx(1), ValueRange{part},
                  [&](OpBuilder &b, Location loc, Value in, ValueRange partIn) {
                    scf::YieldOp::create(
                        b, loc,
                        kernel.tokens(b, loc, in, lo, hi, partIn[0], lo, n0));
                  })
                  .getResult(0);
          yieldSlice(b, loc, part, out, offsets, sizes);
        });
    rewriter.replaceOp(op, grid.getResult(0));
    return success();
  }

  int64_t width;
};
struct Dsv3HostVectorizeFP8LinearPass
    : dsv3::impl::Dsv3HostVectorizeFP8LinearBase<
          Dsv3HostVectorizeFP8LinearPass> {
  using Base::Base;
  void runOnOperation() override {
    if (vectorWidth <= 0 || kQuantBlock % vectorWidth != 0) {
      getOperation()->emitError("vector-width must divide 128, got ")
          << static_cast<int64_t>(vectorWidth);
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<VectorizeFP8Linear, VectorizeFP8GroupedMatmul>(&getContext(),
                                                                vectorWidth);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
