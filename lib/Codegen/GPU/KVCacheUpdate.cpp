//===- KVCacheUpdate.cpp - cuda strategy: write only the new cache rows ---===//
//
// The definition of dsv3.kv_cache_update is a gather over the whole cache
// (each output row is the old row or a new one), which the correct-first
// mapping runs as a kernel over all B x L rows: every decode step copied the
// whole latent cache, O(L) bytes to write S rows. Here one kernel has a
// block per new row (s, b) that writes that row into the cache operand
// itself, so bufferization updates the session's cache in place: O(S)
// bytes per step.
//
// A sequence whose rows would not fit (start_pos < 0 or start_pos + S > L)
// keeps its cache, as the definition says; its blocks then write rows
// 0 .. S-1 with their own old values (each block still writes one row of
// the shared output, and no other block writes that row).
//
// A `dsv3.rope` whose only use is the new k_pe rows is computed by the same
// kernel as it writes them (the rope's own arithmetic, RopeOp::buildRotation,
// rounded to the rope's result type first): the key's rope costs no kernel
// and its rows no round trip through memory.
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
#define GEN_PASS_DEF_DSV3GPUKVCACHEUPDATE
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;
using host::cIdx;

namespace {

/// Column c of new row (b, s) of the update, before its cast to the
/// cache's type.
using NewValue = function_ref<Value(OpBuilder &, Location, Value c)>;

/// Phase of the block writing row `row` of sequence `b` of `cache`
/// [B, L, X]: thread j writes columns j, j + T, ...: the new row's values
/// (`value`, cast to the cache's type) where `fits`, else the row's own.
Slot writeRow(OpBuilder &b, Location loc, Value cache, NewValue value,
              Value bIdx, Value row, Value fits) {
  auto type = cast<RankedTensorType>(cache.getType());
  Type elem = type.getElementType();
  int64_t width = type.getDimSize(2), threads = threadsDividing(width);
  Slot at{Value(),
          {bIdx, row, b.getIndexAttr(0)},
          indexAttrs(b, {1, 1, width}),
          indexAttrs(b, {1, 1, 1})};
  Value line =
      extractSlot(b, loc, RankedTensorType::get({width}, elem), cache, at);
  at.part = mappedForall(
      b, loc, {threads}, {gpu::MappingId::DimX}, /*blocks=*/false, {line},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        Value t = ivs[0];
        Slot mine{Value(),
                  {t},
                  indexAttrs(b, {width / threads}),
                  indexAttrs(b, {threads})};
        Value part =
            extractSlot(b, loc, RankedTensorType::get({width / threads}, elem),
                        outs[0], mine);
        auto cols = scf::ForOp::create(
            b, loc, cIdx(b, loc, 0), cIdx(b, loc, width / threads),
            cIdx(b, loc, 1), ValueRange{part},
            [&](OpBuilder &b, Location loc, Value i, ValueRange it) {
              Value c = arith::AddIOp::create(
                  b, loc, t,
                  arith::MulIOp::create(b, loc, i, cIdx(b, loc, threads)));
              auto v = scf::IfOp::create(
                  b, loc, fits,
                  [&](OpBuilder &b, Location loc) {
                    Value n = value(b, loc, c);
                    // Through f32: exact widening, one rounding.
                    if (n.getType() != elem && !n.getType().isF32())
                      n = arith::ExtFOp::create(b, loc, b.getF32Type(), n);
                    if (n.getType() != elem)
                      n = arith::TruncFOp::create(b, loc, elem, n);
                    scf::YieldOp::create(b, loc, n);
                  },
                  [&](OpBuilder &b, Location loc) {
                    scf::YieldOp::create(b, loc,
                                         ValueRange{tensor::ExtractOp::create(
                                             b, loc, it[0], i)});
                  });
              scf::YieldOp::create(b, loc,
                                   ValueRange{tensor::InsertOp::create(
                                       b, loc, v.getResult(0), it[0], i)});
            });
        mine.part = cols.getResult(0);
        return SmallVector<Slot>{mine};
      })[0];
  return at;
}

/// The rope that produces the new k_pe rows, if the kernel can compute it:
/// their only use, with rows [B, S, D] and positions [B, S] or [B].
RopeOp fusableRope(KVCacheUpdateOp op) {
  auto rope = op.getNewKPe().getDefiningOp<RopeOp>();
  if (!rope || !rope->hasOneUse() ||
      !rope.getInput().getType().hasStaticShape())
    return nullptr;
  auto pos = rope.getPositions().getType();
  if (!pos.hasStaticShape() || pos.getRank() > 2 ||
      pos.getShape() !=
          rope.getInput().getType().getShape().take_front(pos.getRank()))
    return nullptr;
  return rope;
}

/// Column c of the rope's result for row (b, s), as its definition computes
/// it: the pair of c rotated by positions[b(, s)] · f'[pair], rounded to the
/// rope's result type.
Value ropeValue(OpBuilder &b, Location loc, RopeOp rope, Value freqs,
                Value bIdx, Value s, Value c) {
  Value x = rope.getInput();
  int64_t half = rope.getInput().getType().getShape().back() / 2;
  bool interleaved = rope.getLayout() == RopeLayout::interleaved;
  // Interleaved: pairs (2i, 2i + 1); halves: (i, i + D/2).
  Value two = cIdx(b, loc, 2), halfIdx = cIdx(b, loc, half);
  Value pair = interleaved
                   ? arith::DivUIOp::create(b, loc, c, two).getResult()
                   : arith::RemUIOp::create(b, loc, c, halfIdx).getResult();
  Value member = interleaved
                     ? arith::RemUIOp::create(b, loc, c, two).getResult()
                     : arith::DivUIOp::create(b, loc, c, halfIdx).getResult();
  Value ia =
      interleaved ? arith::MulIOp::create(b, loc, pair, two).getResult() : pair;
  Value ib =
      arith::AddIOp::create(b, loc, ia, cIdx(b, loc, interleaved ? 1 : half));
  Value xa = tensor::ExtractOp::create(b, loc, x, ValueRange{bIdx, s, ia});
  Value xb = tensor::ExtractOp::create(b, loc, x, ValueRange{bIdx, s, ib});
  SmallVector<Value> at = {bIdx, s};
  at.resize(rope.getPositions().getType().getRank());
  Value p = tensor::ExtractOp::create(b, loc, rope.getPositions(), at);
  Value f = tensor::ExtractOp::create(b, loc, freqs, ValueRange{pair});
  auto [ya, yb] = rope.buildRotation(b, loc, xa, xb, p, f);
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, member,
                                      cIdx(b, loc, 0));
  Value y = arith::SelectOp::create(b, loc, first, ya, yb);
  Type elem = rope.getType().getElementType();
  return elem.isF32() ? y : arith::TruncFOp::create(b, loc, elem, y);
}

SmallVector<Value> buildCacheUpdate(OpBuilder &b, Location loc,
                                    KVCacheUpdateOp op, RopeOp rope) {
  auto cType = op.getCKv().getType();
  int64_t batch = cType.getDimSize(0), l = cType.getDimSize(1);
  int64_t s = op.getNewCKv().getType().getDimSize(1);
  // The rope's frequencies, f' in f64 rounded once to f32 as in its
  // definition.
  Value freqs;
  if (rope) {
    SmallVector<float> f;
    for (double v : rope.getFrequencies())
      f.push_back(static_cast<float>(v));
    auto type = RankedTensorType::get({int64_t(f.size())}, b.getF32Type());
    freqs = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, ArrayRef<float>(f)));
  }
  SmallVector<Value> caches = mappedForall(
      b, loc, {s, batch}, {gpu::MappingId::DimX, gpu::MappingId::DimY},
      /*blocks=*/true, {op.getCKv(), op.getKPe()},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        Value sIdx = ivs[0], bIdx = ivs[1];
        Value start = arith::IndexCastOp::create(
            b, loc, b.getIndexType(),
            tensor::ExtractOp::create(b, loc, op.getStartPos(),
                                      ValueRange{bIdx}));
        // 0 <= start_pos <= L - S, compared without forming start_pos + S.
        Value fits = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, start,
                                  cIdx(b, loc, 0)),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, start,
                                  cIdx(b, loc, l - s)));
        Value row = arith::SelectOp::create(
            b, loc, fits, arith::AddIOp::create(b, loc, start, sIdx), sIdx);
        auto rowOf = [&](Value rows) {
          return [=](OpBuilder &b, Location loc, Value c) -> Value {
            return tensor::ExtractOp::create(b, loc, rows,
                                             ValueRange{bIdx, sIdx, c});
          };
        };
        auto roped = [&](OpBuilder &b, Location loc, Value c) {
          return ropeValue(b, loc, rope, freqs, bIdx, sIdx, c);
        };
        auto cRow = rowOf(op.getNewCKv()), kRow = rowOf(op.getNewKPe());
        return SmallVector<Slot>{
            writeRow(b, loc, outs[0], cRow, bIdx, row, fits),
            rope ? writeRow(b, loc, outs[1], roped, bIdx, row, fits)
                 : writeRow(b, loc, outs[1], kRow, bIdx, row, fits)};
      });
  // What a launch moves: the new rows and start_pos read, as many rows of
  // each cache written (the caches are updated in place, not copied).
  std::optional<int64_t> bytes = 0;
  SmallVector<Value> read = {op.getNewCKv(), op.getStartPos()};
  if (rope)
    read.append({rope.getInput(), rope.getPositions()});
  else
    read.push_back(op.getNewKPe());
  for (Value v : read) {
    std::optional<int64_t> each =
        gpu_kernels::typeBytes(cast<ShapedType>(v.getType()));
    bytes = bytes && each ? llvm::checkedAdd(*bytes, *each) : std::nullopt;
  }
  for (auto [cache, rows] : {std::pair{op.getCKv(), op.getNewCKv()},
                             std::pair{op.getKPe(), op.getNewKPe()}}) {
    auto type = cast<ShapedType>(cache.getType());
    auto written = RankedTensorType::get(
        cast<ShapedType>(rows.getType()).getShape(), type.getElementType());
    std::optional<int64_t> each = gpu_kernels::typeBytes(written);
    bytes = bytes && each ? llvm::checkedAdd(*bytes, *each) : std::nullopt;
  }
  gpu_kernels::setKernelCost(caches[0].getDefiningOp<scf::ForallOp>(),
                             {bytes, {}});
  return caches;
}

struct Dsv3GPUKVCacheUpdate
    : dsv3::impl::Dsv3GPUKVCacheUpdateBase<Dsv3GPUKVCacheUpdate> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<KVCacheUpdateOp> ops;
    getOperation()->walk([&](KVCacheUpdateOp op) {
      // Static new rows (decode, an MTP chunk) that can fit; a prefill of
      // any length keeps the definition.
      if (op.getNewCKv().getType().hasStaticShape() &&
          op.getNewCKv().getType().getDimSize(1) <=
              op.getCKv().getType().getDimSize(1) &&
          op.getCKv().getType().hasStaticShape() &&
          op.getKPe().getType().hasStaticShape() &&
          op.getNewKPe().getType().hasStaticShape())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (KVCacheUpdateOp op : ops) {
      rewriter.setInsertionPoint(op);
      RopeOp rope = fusableRope(op);
      rewriter.replaceOp(op, buildCacheUpdate(rewriter, op.getLoc(), op, rope));
      if (rope)
        rewriter.eraseOp(rope);
    }
  }
};

} // namespace
