//===- ExpertCombine.cpp - cuda strategy: expert combine in one kernel ----===//
//
// The definition of dsv3.expert_combine computes each pair's row (the ids,
// a count of the earlier pairs of the same expert, the expert's offset) as
// linalg ops of their own before the weighted gather, so the correct-first
// mapping launches several kernels, the counts in a single thread. Here one
// kernel has a block per (token, column tile): a thread per pair of the
// token finds its row (into shared memory), then a thread per column adds
// the token's K weighted rows in k order, as the definition does.
//
// Each block recounts its token's rows: K threads walking at most T·K ids,
// cheap next to the rows it reads, and it needs no second kernel or global
// buffer.
//
//===----------------------------------------------------------------------===//

#include "../Host/KernelBuilders.h"
#include "ForallKernels.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/Support/CheckedArithmetic.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUEXPERTCOMBINE
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;
using host::cIdx;

namespace {

/// CUDA's limit on threads per block (a thread per pair of a token).
constexpr int64_t kMaxThreads = 1024;
/// CUDA's limit on the grid's y dimension.
constexpr int64_t kMaxGridY = 65535;
struct Combine {
  mutable ExpertCombineOp op;
  int64_t tokens, topK, experts, rows, width;
  bool sharedMemory;

  /// The block of token `t` and columns [c0, c0 + threads).
  Slot block(OpBuilder &b, Location loc, Value t, Value tile,
             Value yOut) const {
    Type i64 = b.getI64Type(), f32 = b.getF32Type();
    Type yElem = op.getResult().getType().getElementType();
    int64_t threads = threadsDividing(width);
    Value ids = op.getIds();
    Value kC = cIdx(b, loc, topK);

    // Phase 1, a thread per pair (t, k): its row, offsets[e] plus the
    // earlier pairs of e (i64, as the definition adds them), or -1 for an
    // id outside [0, E) or a row outside the rows operand.
    Value rowOf = scalarsPerThread(
        b, loc, topK, {sharedBuffer(b, loc, {topK}, i64, sharedMemory)},
        [&](OpBuilder &b, Location loc, Value k) -> SmallVector<Value> {
          Value id = tensor::ExtractOp::create(b, loc, ids, ValueRange{t, k});
          Value p = arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, t, kC), k);
          Value earlier =
              sumOver(b, loc, p, arith::ConstantIntOp::create(b, loc, 0, 64),
                      [&](OpBuilder &b, Location loc, Value q) -> Value {
                        Value other = tensor::ExtractOp::create(
                            b, loc, ids,
                            ValueRange{arith::DivUIOp::create(b, loc, q, kC),
                                       arith::RemUIOp::create(b, loc, q, kC)});
                        Value same = arith::CmpIOp::create(
                            b, loc, arith::CmpIPredicate::eq, other, id);
                        return arith::ExtUIOp::create(b, loc, i64, same);
                      });
          Value validId = arith::AndIOp::create(
              b, loc,
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::sge, id,
                  arith::ConstantIntOp::create(b, loc, 0, 32)),
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, id,
                  arith::ConstantIntOp::create(b, loc, experts, 32)));
          Value e = arith::SelectOp::create(
              b, loc, validId,
              arith::IndexCastOp::create(b, loc, b.getIndexType(), id),
              cIdx(b, loc, 0));
          Value base = tensor::ExtractOp::create(b, loc, op.getOffsets(), e);
          Value row = arith::AddIOp::create(b, loc, base, earlier);
          Value inside = arith::AndIOp::create(
              b, loc,
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::sge, row,
                  arith::ConstantIntOp::create(b, loc, 0, 64)),
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, row,
                  arith::ConstantIntOp::create(b, loc, rows, 64)));
          Value valid = arith::AndIOp::create(b, loc, validId, inside);
          return {arith::SelectOp::create(
              b, loc, valid, row,
              arith::ConstantIntOp::create(b, loc, -1, 64))};
        })[0];

    // Phase 2, a thread per column: Σ_k w[t, k] · rows[row_k, c] in f32,
    // k ascending, skipping the pairs without a row; rounded once.
    Value c0 = arith::MulIOp::create(b, loc, tile, cIdx(b, loc, threads));
    Slot at{
        Value(), {t, c0}, indexAttrs(b, {1, threads}), indexAttrs(b, {1, 1})};
    Value line =
        extractSlot(b, loc, RankedTensorType::get({threads}, yElem), yOut, at);
    at.part = scalarsPerThread(
        b, loc, threads, {line},
        [&](OpBuilder &b, Location loc, Value i) -> SmallVector<Value> {
          Value c = arith::AddIOp::create(b, loc, c0, i);
          Value acc =
              scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), kC, cIdx(b, loc, 1),
                  ValueRange{cF32(b, loc, 0.0f)},
                  [&](OpBuilder &b, Location loc, Value k, ValueRange it) {
                    Value row = tensor::ExtractOp::create(b, loc, rowOf, k);
                    Value has = arith::CmpIOp::create(
                        b, loc, arith::CmpIPredicate::sge, row,
                        arith::ConstantIntOp::create(b, loc, 0, 64));
                    auto sum = scf::IfOp::create(
                        b, loc, has,
                        [&](OpBuilder &b, Location loc) {
                          Value v = toF32(
                              b, loc,
                              tensor::ExtractOp::create(
                                  b, loc, op.getRows(),
                                  ValueRange{arith::IndexCastOp::create(
                                                 b, loc, b.getIndexType(), row),
                                             c}));
                          Value w = tensor::ExtractOp::create(
                              b, loc, op.getWeights(), ValueRange{t, k});
                          scf::YieldOp::create(
                              b, loc,
                              ValueRange{arith::AddFOp::create(
                                  b, loc, it[0],
                                  arith::MulFOp::create(b, loc, w, v))});
                        },
                        [&](OpBuilder &b, Location loc) {
                          scf::YieldOp::create(b, loc, it[0]);
                        });
                    scf::YieldOp::create(b, loc, sum.getResults());
                  })
                  .getResult(0);
          if (yElem != f32)
            acc = arith::TruncFOp::create(b, loc, yElem, acc);
          return {acc};
        })[0];
    return at;
  }
};

Value buildCombine(OpBuilder &b, Location loc, const Combine &c) {
  Type yElem = c.op.getResult().getType().getElementType();
  int64_t tiles = c.width / threadsDividing(c.width);
  Value y = mappedForall(
      b, loc, {c.tokens, tiles}, {gpu::MappingId::DimX, gpu::MappingId::DimY},
      /*blocks=*/true,
      {tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{c.tokens, c.width},
                               yElem)},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        return SmallVector<Slot>{c.block(b, loc, ivs[0], ivs[1], outs[0])};
      })[0];
  // What a launch moves: the T·K routed rows (not the whole rows operand,
  // which has padding and other tokens' rows in general), the ids, weights
  // and offsets, and the result; a multiply-add per routed element.
  auto forall = y.getDefiningOp<scf::ForallOp>();
  auto rowsType = c.op.getRows().getType();
  std::optional<int64_t> bytes =
      gpu_kernels::operandBytes(forall, {c.op.getRows()});
  std::optional<int64_t> routed = gpu_kernels::typeBytes(RankedTensorType::get(
      {c.tokens * c.topK, c.width}, rowsType.getElementType()));
  gpu_kernels::setKernelCost(
      forall,
      {bytes && routed ? llvm::checkedAdd(*bytes, *routed) : std::nullopt,
       gpu_kernels::checkedProduct({2, c.tokens, c.topK, c.width})});
  return y;
}

struct Dsv3GPUExpertCombine
    : dsv3::impl::Dsv3GPUExpertCombineBase<Dsv3GPUExpertCombine> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Combine> combines;
    getOperation()->walk([&](ExpertCombineOp op) {
      auto rows = op.getRows().getType();
      auto ids = op.getIds().getType();
      auto offsets = op.getOffsets().getType();
      if (!rows.hasStaticShape() || !ids.hasStaticShape() ||
          !offsets.hasStaticShape() ||
          !op.getWeights().getType().hasStaticShape())
        return;
      Combine c{op,
                ids.getDimSize(0),
                ids.getDimSize(1),
                offsets.getDimSize(0) - 1,
                rows.getDimSize(0),
                rows.getDimSize(1),
                sharedMemory};
      // No empty grid or block: zero tokens, pairs or columns keep the
      // definition.
      // Column tiles are #gpu.block<y>, at most 65535 of them.
      if (c.tokens < 1 || c.tokens > maxTokens || c.topK < 1 ||
          c.topK > kMaxThreads || c.width < 1 ||
          c.width / threadsDividing(c.width) > kMaxGridY)
        return;
      combines.push_back(c);
    });
    IRRewriter rewriter(&getContext());
    for (const Combine &c : combines) {
      rewriter.setInsertionPoint(c.op);
      rewriter.replaceOp(c.op, buildCombine(rewriter, c.op.getLoc(), c));
    }
  }
};

} // namespace
