//===- VectorizeFP8Linear.cpp - vector loops for weight-only FP8 linear ---===//
//
// The generic linalg form of dsv3.linear indexes the block scale with
// floordiv maps, which upstream vectorization does not take, and its scalar
// loops reload the accumulator every K step. Decode-shaped linears (small M)
// are weight-bandwidth bound, so the host gets a direct form (Passes.td):
// output rows n split over the threads (scf.forall), and per row, tiles of
// up to 8 tokens share each FP8 weight vector, widened once in registers.
//
// The widening is exact and cheap on AVX2 + F16C: e4m3's exponent and
// mantissa bits, moved into an f16's, give the same number times 2^-8 (also
// for subnormals), so sign-extend, shift, mask and vcvtph2ps widen 8 codes
// in four instructions, and the 2^8 goes into the block scale. Finite codes
// are exact; the two NaN codes read as +-480 (checkpoints hold none).
//
//===----------------------------------------------------------------------===//
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

namespace {

/// Token tiles, largest first: each FP8 weight vector feeds this many
/// accumulators (8 x vector<8xf32> plus the weight and activation vectors
/// fit AVX2's 16 registers).
constexpr int64_t kTokenTiles[] = {8, 4, 2, 1};

/// e4m3 codes -> f32 values times 2^-8 (see the file comment): the code's
/// low 7 bits go to bits 13..7 of an f16 and its sign to bit 15.
Value widenE4M3Scaled(OpBuilder &b, Location loc, Value codes) {
  auto shape = cast<VectorType>(codes.getType()).getShape();
  auto i8 = VectorType::get(shape, b.getI8Type());
  auto i16 = VectorType::get(shape, b.getI16Type());
  auto splat = [&](int64_t v) {
    return arith::ConstantOp::create(
        b, loc, i16,
        DenseElementsAttr::get(i16, APInt(16, v, /*isSigned=*/true)));
  };
  Value bits = arith::BitcastOp::create(b, loc, i8, codes);
  bits = arith::ExtSIOp::create(b, loc, i16, bits);
  bits = arith::ShLIOp::create(b, loc, bits, splat(7));
  bits = arith::AndIOp::create(b, loc, bits, splat(0xbf80));
  Value half = arith::BitcastOp::create(
      b, loc, VectorType::get(shape, b.getF16Type()), bits);
  return arith::ExtFOp::create(b, loc, VectorType::get(shape, b.getF32Type()),
                               half);
}

struct VectorizeFP8Linear : OpRewritePattern<LinearOp> {
  VectorizeFP8Linear(MLIRContext *ctx, int64_t width)
      : OpRewritePattern(ctx), width(width) {}

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    auto yType = op.getResult().getType();
    if (op.getActQuant() != ActivationQuant::none ||
        !isa<Float8E4M3FNType>(wType.getElementType()))
      return rewriter.notifyMatchFailure(op, "not a weight-only FP8 linear");
    int64_t k = xType.getDimSize(1), n = wType.getDimSize(0);
    int64_t kb = llvm::divideCeil(k, kQuantBlock);
    if (k % width != 0 || kQuantBlock % width != 0)
      return rewriter.notifyMatchFailure(op, "K not a multiple of the width");

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    Type f32 = b.getF32Type();
    auto cIdx = [&](int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    auto vecF32 = VectorType::get({width}, f32);
    Value zeroVec = arith::ConstantOp::create(
        b, loc, vecF32, DenseElementsAttr::get(vecF32, APFloat(0.0f)));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value twoTo8 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f));
    Value fZero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value wPad = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(wType.getElementType(), 0.0));
    Value scale = op.getWeightScaleInv();
    SmallVector<bool> inBounds = {true};
    OpFoldResult mSize = tensor::getMixedSize(b, loc, op.getInput(), 0);
    Value mEnd = getValueOrCreateConstantIndexOp(b, loc, mSize);

    // Activations in f32 once, rather than widened again for every row.
    Value x = op.getInput();
    if (xType.getElementType() != f32) {
      Value empty = tensor::EmptyOp::create(
          b, loc, SmallVector<OpFoldResult>{mSize, b.getIndexAttr(k)}, f32);
      x = linalg::CopyOp::create(b, loc, x, empty).getResult(0);
    }

    // Tokens [m0, m0 + tile) of output row `in`, written into `col`
    // ([M, 1], the row's column of the result).
    auto tokenTile = [&](OpBuilder &b, Location loc, Value in, Value m0,
                         int64_t tile, Value col) {
      Value nBlock = arith::DivUIOp::create(b, loc, in, cIdx(kQuantBlock));
      SmallVector<Value> tokenIdx, zeros(tile, zero);
      for (int64_t t = 0; t < tile; ++t)
        tokenIdx.push_back(arith::AddIOp::create(b, loc, m0, cIdx(t)));
      auto blocks = scf::ForOp::create(
          b, loc, cIdx(0), cIdx(kb), cIdx(1), zeros,
          [&](OpBuilder &b, Location loc, Value ib, ValueRange acc) {
            Value k0 = arith::MulIOp::create(b, loc, ib, cIdx(kQuantBlock));
            Value kEnd = arith::MinUIOp::create(
                b, loc, arith::AddIOp::create(b, loc, k0, cIdx(kQuantBlock)),
                cIdx(k));
            SmallVector<Value> zeroVecs(tile, zeroVec);
            auto inner = scf::ForOp::create(
                b, loc, k0, kEnd, cIdx(width), zeroVecs,
                [&](OpBuilder &b, Location loc, Value ik, ValueRange vacc) {
                  Value codes = vector::TransferReadOp::create(
                      b, loc, VectorType::get({width}, wType.getElementType()),
                      op.getWeight(), ValueRange{in, ik}, wPad, inBounds);
                  Value w = widenE4M3Scaled(b, loc, codes);
                  SmallVector<Value> next;
                  for (int64_t t = 0; t < tile; ++t) {
                    Value xv = vector::TransferReadOp::create(
                        b, loc, vecF32, x, ValueRange{tokenIdx[t], ik}, fZero,
                        inBounds);
                    next.push_back(
                        vector::FMAOp::create(b, loc, xv, w, vacc[t]));
                  }
                  scf::YieldOp::create(b, loc, next);
                });
            Value s = tensor::ExtractOp::create(b, loc, scale,
                                                ValueRange{nBlock, ib});
            if (!s.getType().isF32())
              s = arith::ExtFOp::create(b, loc, f32, s);
            // Exact: a power of two (an f32 scale is far from overflow).
            s = arith::MulFOp::create(b, loc, s, twoTo8);
            SmallVector<Value> next;
            for (int64_t t = 0; t < tile; ++t) {
              // A tree reduction of the lanes: the order of the K sum is not
              // part of the semantics.
              Value sum = vector::ReductionOp::create(
                  b, loc, vector::CombiningKind::ADD, inner.getResult(t),
                  arith::FastMathFlags::reassoc);
              next.push_back(arith::AddFOp::create(
                  b, loc, acc[t], arith::MulFOp::create(b, loc, sum, s)));
            }
            scf::YieldOp::create(b, loc, next);
          });
      for (int64_t t = 0; t < tile; ++t) {
        Value v = blocks.getResult(t);
        if (yType.getElementType() != f32)
          v = arith::TruncFOp::create(b, loc, yType.getElementType(), v);
        col = tensor::InsertOp::create(b, loc, v, col,
                                       ValueRange{tokenIdx[t], cIdx(0)});
      }
      return col;
    };

    // Rows in parallel (each writes its own column); per row, the tokens in
    // tiles of 8, then at most one tile each of 4, 2 and 1.
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
          std::optional<int64_t> m = getConstantIntValue(mSize);
          int64_t doneStatic = 0;
          Value done = cIdx(0);
          for (int64_t tile : kTokenTiles) {
            Value end;
            if (m) { // a static M gets only the tiles it uses
              int64_t e = *m / tile * tile;
              if (e == doneStatic)
                continue;
              doneStatic = e;
              end = cIdx(e);
            } else {
              end = arith::MulIOp::create(
                  b, loc, arith::DivUIOp::create(b, loc, mEnd, cIdx(tile)),
                  cIdx(tile));
            }
            col = scf::ForOp::create(
                      b, loc, done, end, cIdx(tile), ValueRange{col},
                      [&](OpBuilder &b, Location loc, Value m0,
                          ValueRange colIn) {
                        scf::YieldOp::create(
                            b, loc, tokenTile(b, loc, in, m0, tile, colIn[0]));
                      })
                      .getResult(0);
            done = end;
          }
          auto inParallel = scf::InParallelOp::create(b, loc);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(inParallel.getBody());
          tensor::ParallelInsertSliceOp::create(b, loc, col, out, offsets,
                                                sizes, strides);
        });
    rewriter.replaceOp(op, rows.getResult(0));
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
    patterns.add<VectorizeFP8Linear>(&getContext(), vectorWidth);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
