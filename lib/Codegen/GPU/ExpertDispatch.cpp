//===- ExpertDispatch.cpp - cuda strategy: expert dispatch in two kernels -===//
//
// The definition of dsv3.expert_dispatch is a chain of linalg ops (the pairs'
// ids, each expert's count, the aligned prefix sums, each pair's row, the
// inverse map row_to_token) and a gather of the rows. The correct-first
// mapping runs it as 13 kernels, most of them a single block whose threads
// each walk a reduction serially, launched one after another on every MoE
// layer of every decode step. Here:
//
//  * one block computes `offsets` and `row_to_token` in phases: a thread per
//    expert counts its pairs; a thread per expert (and one for the total)
//    adds the aligned counts before it; threads strided over the rows fill
//    row_to_token with -1; a thread per pair counts the earlier pairs of its
//    expert, which gives its row, and writes its token there;
//  * a block per row copies the token's row of x (zeros for a padding row).
//
// Counting instead of sorting keeps the definition's order (pairs of an
// expert in increasing p) with no atomics: every row is written by one
// thread. The counts are O(P) per thread, which the pass bounds through the
// token count (a decode step, an MTP chunk).
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

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUEXPERTDISPATCH
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;
using host::cIdx;

namespace {

/// CUDA's limit on threads per block: a thread per pair, and one per expert
/// plus one.
constexpr int64_t kMaxThreads = 1024;
/// Threads that fill row_to_token, and that copy a row's columns.
constexpr int64_t kRowThreads = 256;

Value cI64(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
}

struct Dispatch {
  mutable ExpertDispatchOp op;
  int64_t tokens, topK, experts, alignment, rows, width;
  bool sharedMemory;

  int64_t pairs() const { return tokens * topK; }

  /// ids[p / K, p % K] (i32) for a flat pair index p.
  Value idOf(OpBuilder &b, Location loc, Value p) const {
    Value k = cIdx(b, loc, topK);
    return tensor::ExtractOp::create(
        b, loc, op.getIds(),
        ValueRange{arith::DivUIOp::create(b, loc, p, k),
                   arith::RemUIOp::create(b, loc, p, k)});
  }

  /// #{p' < n : ids[p'] == id} (index).
  Value countBefore(OpBuilder &b, Location loc, Value n, Value id) const {
    return sumOver(b, loc, n, cIdx(b, loc, 0),
                   [&](OpBuilder &b, Location loc, Value q) -> Value {
                     Value same = arith::CmpIOp::create(
                         b, loc, arith::CmpIPredicate::eq, idOf(b, loc, q), id);
                     return arith::SelectOp::create(
                         b, loc, same, cIdx(b, loc, 1), cIdx(b, loc, 0));
                   });
  }

  /// The block computing `offsets` [E + 1] and `row_to_token` [R].
  SmallVector<Slot> indexBlock(OpBuilder &b, Location loc, Value offsetsOut,
                               Value tokOut) const {
    Type i64 = b.getI64Type(), idx = b.getIndexType();

    // Phase 1, a thread per expert: its number of pairs.
    Value counts = scalarsPerThread(
        b, loc, experts, {sharedBuffer(b, loc, {experts}, idx, sharedMemory)},
        [&](OpBuilder &b, Location loc, Value e) -> SmallVector<Value> {
          Value id = arith::IndexCastOp::create(b, loc, b.getI32Type(), e);
          return {countBefore(b, loc, cIdx(b, loc, pairs()), id)};
        })[0];

    // Phase 2, a thread per expert and one for the total: the aligned
    // counts of the experts before it. Every partial sum is at most R, so
    // nothing here can wrap.
    Value offsets = scalarsPerThread(
        b, loc, experts + 1, {offsetsOut},
        [&](OpBuilder &b, Location loc, Value e) -> SmallVector<Value> {
          Value a = cIdx(b, loc, alignment);
          Value sum = sumOver(
              b, loc, e, cIdx(b, loc, 0),
              [&](OpBuilder &b, Location loc, Value before) -> Value {
                Value c = tensor::ExtractOp::create(b, loc, counts, before);
                return arith::MulIOp::create(
                    b, loc, arith::CeilDivUIOp::create(b, loc, c, a), a);
              });
          return {arith::IndexCastOp::create(b, loc, i64, sum)};
        })[0];

    // Phase 3, threads strided over the rows: -1 everywhere (thread i takes
    // rows i, i + n, ..., ceil((R - i) / n) of them).
    int64_t fillers = std::min(rows, kRowThreads);
    Value filled = mappedForall(
        b, loc, {fillers}, {gpu::MappingId::DimX}, /*blocks=*/false, {tokOut},
        [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
          Value i = ivs[0];
          Value mine = arith::CeilDivUIOp::create(
              b, loc, arith::SubIOp::create(b, loc, cIdx(b, loc, rows), i),
              cIdx(b, loc, fillers));
          Slot at{Value(), {i}, {mine}, indexAttrs(b, {fillers})};
          Value part = extractSlot(
              b, loc, RankedTensorType::get({ShapedType::kDynamic}, i64),
              outs[0], at);
          at.part =
              scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), mine, cIdx(b, loc, 1),
                  ValueRange{part},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{tensor::InsertOp::create(
                            b, loc, cI64(b, loc, -1), it[0], j)});
                  })
                  .getResult(0);
          return SmallVector<Slot>{at};
        })[0];

    // Phase 4, a thread per pair p = t·K + k: its row is offsets[e] plus the
    // earlier pairs of e; it writes t there. A pair whose id is outside
    // [0, E) is not dispatched: its slot is empty.
    Value tok = mappedForall(
        b, loc, {pairs()}, {gpu::MappingId::DimX}, /*blocks=*/false, {filled},
        [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
          Value p = ivs[0];
          Value id = idOf(b, loc, p);
          Value valid = arith::AndIOp::create(
              b, loc,
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::sge, id,
                  arith::ConstantIntOp::create(b, loc, 0, 32)),
              arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, id,
                  arith::ConstantIntOp::create(b, loc, experts, 32)));
          Value e = arith::SelectOp::create(
              b, loc, valid, arith::IndexCastOp::create(b, loc, idx, id),
              cIdx(b, loc, 0));
          Value base = arith::IndexCastOp::create(
              b, loc, idx, tensor::ExtractOp::create(b, loc, offsets, e));
          Value row =
              arith::AddIOp::create(b, loc, base, countBefore(b, loc, p, id));
          Slot at{Value(),
                  {arith::SelectOp::create(b, loc, valid, row, cIdx(b, loc, 0))
                       .getResult()},
                  {arith::SelectOp::create(b, loc, valid, cIdx(b, loc, 1),
                                           cIdx(b, loc, 0))
                       .getResult()},
                  indexAttrs(b, {1})};
          Value part = extractSlot(
              b, loc, RankedTensorType::get({ShapedType::kDynamic}, i64),
              outs[0], at);
          Value t = arith::IndexCastOp::create(
              b, loc, i64,
              arith::DivUIOp::create(b, loc, p, cIdx(b, loc, topK)));
          at.part =
              scf::IfOp::create(
                  b, loc, valid,
                  [&](OpBuilder &b, Location loc) {
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{tensor::InsertOp::create(
                            b, loc, t, part, ValueRange{cIdx(b, loc, 0)})});
                  },
                  [&](OpBuilder &b, Location loc) {
                    scf::YieldOp::create(b, loc, part);
                  })
                  .getResult(0);
          return SmallVector<Slot>{at};
        })[0];

    Slot offsetsAt{offsets,
                   {b.getIndexAttr(0)},
                   indexAttrs(b, {experts + 1}),
                   indexAttrs(b, {1})};
    Slot tokAt{
        tok, {b.getIndexAttr(0)}, indexAttrs(b, {rows}), indexAttrs(b, {1})};
    return {offsetsAt, tokAt};
  }

  /// The block copying row `r`: x[row_to_token[r]] or zeros; threads strided
  /// over the columns.
  Slot rowBlock(OpBuilder &b, Location loc, Value r, Value tok,
                Value rowsOut) const {
    Type elem = op.getRows().getType().getElementType();
    int64_t threads = threadsDividing(width, kRowThreads),
            perThread = width / threads;
    Value t = tensor::ExtractOp::create(b, loc, tok, r);
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, t,
                                        cI64(b, loc, 0));
    Value tIdx = arith::IndexCastOp::create(b, loc, b.getIndexType(), t);
    Slot at{Value(),
            {r, b.getIndexAttr(0)},
            indexAttrs(b, {1, width}),
            indexAttrs(b, {1, 1})};
    Value line =
        extractSlot(b, loc, RankedTensorType::get({width}, elem), rowsOut, at);
    at.part = mappedForall(
        b, loc, {threads}, {gpu::MappingId::DimX}, /*blocks=*/false, {line},
        [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
          Value i = ivs[0];
          Slot mine{Value(),
                    {i},
                    indexAttrs(b, {perThread}),
                    indexAttrs(b, {threads})};
          Value part = extractSlot(
              b, loc, RankedTensorType::get({perThread}, elem), outs[0], mine);
          mine.part =
              scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), cIdx(b, loc, perThread),
                  cIdx(b, loc, 1), ValueRange{part},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
                    Value c = arith::AddIOp::create(
                        b, loc, i,
                        arith::MulIOp::create(b, loc, j,
                                              cIdx(b, loc, threads)));
                    // Moved, not converted: FP8 rows stay bit-exact.
                    auto v = scf::IfOp::create(
                        b, loc, valid,
                        [&](OpBuilder &b, Location loc) {
                          scf::YieldOp::create(
                              b, loc,
                              ValueRange{tensor::ExtractOp::create(
                                  b, loc, op.getInput(), ValueRange{tIdx, c})});
                        },
                        [&](OpBuilder &b, Location loc) {
                          scf::YieldOp::create(
                              b, loc,
                              ValueRange{arith::ConstantOp::create(
                                  b, loc, b.getFloatAttr(elem, 0.0))});
                        });
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{tensor::InsertOp::create(
                            b, loc, v.getResult(0), it[0], j)});
                  })
                  .getResult(0);
          return SmallVector<Slot>{mine};
        })[0];
    return at;
  }
};

SmallVector<Value> buildDispatch(OpBuilder &b, Location loc,
                                 const Dispatch &d) {
  ExpertDispatchOp op = d.op;
  Location indexLoc = withNameSuffix(loc, "_offsets");
  SmallVector<Value> index = mappedForall(
      b, indexLoc, {1}, {gpu::MappingId::DimX}, /*blocks=*/true,
      {tensor::EmptyOp::create(b, indexLoc, ArrayRef<int64_t>{d.experts + 1},
                               b.getI64Type()),
       tensor::EmptyOp::create(b, indexLoc, ArrayRef<int64_t>{d.rows},
                               b.getI64Type())},
      [&](OpBuilder &b, Location loc, ValueRange, ValueRange outs) {
        return d.indexBlock(b, loc, outs[0], outs[1]);
      });
  Location rowsLoc = withNameSuffix(loc, "_rows");
  Value rows = mappedForall(
      b, rowsLoc, {d.rows}, {gpu::MappingId::DimX}, /*blocks=*/true,
      {tensor::EmptyOp::create(b, rowsLoc, ArrayRef<int64_t>{d.rows, d.width},
                               op.getRows().getType().getElementType())},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        return SmallVector<Slot>{d.rowBlock(b, loc, ivs[0], index[1], outs[0])};
      })[0];
  return {rows, index[0], index[1]};
}

struct Dsv3GPUExpertDispatch
    : dsv3::impl::Dsv3GPUExpertDispatchBase<Dsv3GPUExpertDispatch> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Dispatch> dispatches;
    getOperation()->walk([&](ExpertDispatchOp op) {
      auto x = op.getInput().getType();
      auto ids = op.getIds().getType();
      auto rows = op.getRows().getType();
      auto offsets = op.getOffsets().getType();
      if (!x.hasStaticShape() || !ids.hasStaticShape() ||
          !rows.hasStaticShape() || !offsets.hasStaticShape())
        return;
      Dispatch d{op,
                 ids.getDimSize(0),
                 ids.getDimSize(1),
                 offsets.getDimSize(0) - 1,
                 static_cast<int64_t>(op.getAlignment()),
                 rows.getDimSize(0),
                 x.getDimSize(1),
                 sharedMemory};
      // A thread per pair and per expert + 1; no empty grid or block (zero
      // tokens, a zero-width row, no rows keep the definition).
      if (d.tokens < 1 || d.tokens > maxTokens || d.topK < 1 ||
          d.pairs() > kMaxThreads || d.experts + 1 > kMaxThreads ||
          d.rows < 1 || d.width < 1)
        return;
      dispatches.push_back(d);
    });
    IRRewriter rewriter(&getContext());
    for (const Dispatch &d : dispatches) {
      rewriter.setInsertionPoint(d.op);
      rewriter.replaceOp(d.op, buildDispatch(rewriter, d.op.getLoc(), d));
    }
  }
};

} // namespace
