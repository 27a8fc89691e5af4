//===- VectorizeFP8Linear.cpp - vector loops for weight-only FP8 linear ---===//
//
// The generic linalg form of dsv3.linear indexes the block scale with
// floordiv maps, which upstream vectorization does not take, and its scalar
// loops reload the accumulator every K step. Decode-shaped linears (small M)
// are weight-bandwidth bound, so the host gets a direct form: per output
// row n and tile of up to 4 tokens, vector<W x f32> accumulators run over each
// 128-wide K block, reading FP8 weights and bf16/f32 activations with
// contiguous vector loads; the block sum is scaled once by
// weight_scale_inv[n/128, kb].
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
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
    int64_t m = xType.getDimSize(0), k = xType.getDimSize(1);
    int64_t n = wType.getDimSize(0), kb = ceilDiv(k, kQuantBlock);
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
    Value xPad = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(xType.getElementType(), 0.0));
    Value wPad = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(wType.getElementType(), 0.0));
    Value scale = op.getWeightScaleInv();
    Value init = tensor::EmptyOp::create(
        b, loc,
        SmallVector<OpFoldResult>{
            tensor::getMixedSize(b, loc, op.getInput(), 0), b.getIndexAttr(n)},
        yType.getElementType());
    SmallVector<bool> inBounds = {true};

    // Tokens are processed in tiles of up to 4 so that each widened weight
    // vector feeds several accumulators (decode batches are small). A
    // dynamic token count runs tiles of 4, then the remaining tokens one by
    // one.
    Value mEnd =
        ShapedType::isDynamic(m)
            ? tensor::DimOp::create(b, loc, op.getInput(), 0).getResult()
            : cIdx(m);
    // Tokens [m0, m1) in tiles of `tile`, one output column `in` each.
    auto tokenLoop = [&](OpBuilder &b, Location loc, Value in, Value m0,
                         Value m1, int64_t tile, Value yInit) {
      Value nBlock = arith::DivUIOp::create(b, loc, in, cIdx(kQuantBlock));
      return scf::ForOp::create(
                 b, loc, m0, m1, cIdx(tile), ValueRange{yInit},
                 [&](OpBuilder &b, Location loc, Value m0, ValueRange yIn2) {
                   SmallVector<Value> tokenIdx, zeros(tile, zero);
                   for (int64_t t = 0; t < tile; ++t)
                     tokenIdx.push_back(
                         arith::AddIOp::create(b, loc, m0, cIdx(t)));
                   auto blocks = scf::ForOp::create(
                       b, loc, cIdx(0), cIdx(kb), cIdx(1), zeros,
                       [&](OpBuilder &b, Location loc, Value ib,
                           ValueRange acc) {
                         Value k0 = arith::MulIOp::create(b, loc, ib,
                                                          cIdx(kQuantBlock));
                         Value kEnd = arith::MinUIOp::create(
                             b, loc,
                             arith::AddIOp::create(b, loc, k0,
                                                   cIdx(kQuantBlock)),
                             cIdx(k));
                         SmallVector<Value> zeroVecs(tile, zeroVec);
                         auto inner = scf::ForOp::create(
                             b, loc, k0, kEnd, cIdx(width), zeroVecs,
                             [&](OpBuilder &b, Location loc, Value ik,
                                 ValueRange vacc) {
                               Value wv = vector::TransferReadOp::create(
                                   b, loc,
                                   VectorType::get({width},
                                                   wType.getElementType()),
                                   op.getWeight(), ValueRange{in, ik}, wPad,
                                   inBounds);
                               Value wf =
                                   arith::ExtFOp::create(b, loc, vecF32, wv);
                               SmallVector<Value> next;
                               for (int64_t t = 0; t < tile; ++t) {
                                 Value xv = vector::TransferReadOp::create(
                                     b, loc,
                                     VectorType::get({width},
                                                     xType.getElementType()),
                                     op.getInput(), ValueRange{tokenIdx[t], ik},
                                     xPad, inBounds);
                                 Value xf = xv;
                                 if (xType.getElementType() != f32)
                                   xf = arith::ExtFOp::create(b, loc, vecF32,
                                                              xv);
                                 next.push_back(vector::FMAOp::create(
                                     b, loc, xf, wf, vacc[t]));
                               }
                               scf::YieldOp::create(b, loc, next);
                             });
                         Value s = tensor::ExtractOp::create(
                             b, loc, scale, ValueRange{nBlock, ib});
                         if (!s.getType().isF32())
                           s = arith::ExtFOp::create(b, loc, f32, s);
                         SmallVector<Value> next;
                         for (int64_t t = 0; t < tile; ++t) {
                           // A tree reduction of the lanes: the order of the K
                           // sum is not part of the semantics.
                           Value sum = vector::ReductionOp::create(
                               b, loc, vector::CombiningKind::ADD,
                               inner.getResult(t),
                               arith::FastMathFlags::reassoc);
                           next.push_back(arith::AddFOp::create(
                               b, loc, acc[t],
                               arith::MulFOp::create(b, loc, sum, s)));
                         }
                         scf::YieldOp::create(b, loc, next);
                       });
                   Value y = yIn2[0];
                   for (int64_t t = 0; t < tile; ++t) {
                     Value v = blocks.getResult(t);
                     if (yType.getElementType() != f32)
                       v = arith::TruncFOp::create(b, loc,
                                                   yType.getElementType(), v);
                     y = tensor::InsertOp::create(b, loc, v, y,
                                                  ValueRange{tokenIdx[t], in});
                   }
                   scf::YieldOp::create(b, loc, y);
                 })
          .getResult(0);
    };
    auto rows = scf::ForOp::create(
        b, loc, cIdx(0), cIdx(n), cIdx(1), ValueRange{init},
        [&](OpBuilder &b, Location loc, Value in, ValueRange yIn) {
          Value y;
          if (!ShapedType::isDynamic(m)) {
            int64_t tile = m % 4 == 0 ? 4 : m % 2 == 0 ? 2 : 1;
            y = tokenLoop(b, loc, in, cIdx(0), mEnd, tile, yIn[0]);
          } else {
            Value whole = arith::MulIOp::create(
                b, loc, arith::DivUIOp::create(b, loc, mEnd, cIdx(4)), cIdx(4));
            y = tokenLoop(b, loc, in, cIdx(0), whole, 4, yIn[0]);
            y = tokenLoop(b, loc, in, whole, mEnd, 1, y);
          }
          scf::YieldOp::create(b, loc, y);
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
