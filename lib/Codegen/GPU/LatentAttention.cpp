//===- LatentAttention.cpp - cuda strategy: split-KV decode attention -----===//
//
// Absorbed MLA decode attends from each query's 128 heads over one shared
// latent cache (MQA with a single 576-wide key). The definition's mapping
// launches a kernel per linalg op (scores, mask, max, sum, probabilities,
// weighted sum, cast), each with one thread per output walking its
// reduction serially, and a decode step has a single query row per head, so
// the weighted sum's threads each walk the whole cache. Here (FlashMLA's
// split-KV scheme):
//
//  * kernel 1, a block per (key tile n, query (b, i), group of heads): the
//    heads of the group share the tile's cache rows. Phase A: scores of
//    every (head, visible key) into shared memory, on tensor cores where
//    the shapes and types allow (warp m16n8k16 contracts, warpScores);
//    phase B: one thread per head turns its row into exp(s - max) and keeps
//    1 / sum, and writes the tile's log-sum-exp; phase C: the weighted sum
//    Σ_t p_t · c_kv[t], on tensor cores likewise (warpWeightedSum) or
//    thread (head, channel lane) accumulating its channels in registers,
//    into the tile's normalised partial output. Key tiles past kv_len (or
//    the causal limit) read nothing.
//  * kernel 2, a block per (query, group of heads): the tiles' partials
//    merged by their log-sum-exp (dsv3.attention_merge's formula over N
//    parts at once), rounded once to the result type.
//
// Written as mapped scf.forall nests on tensors like the other strategy
// kernels (DecodeLinear.cpp), so --target=cuda-sim runs the same IR.
//
//===----------------------------------------------------------------------===//

#include "../Host/KernelBuilders.h"
#include "ForallKernels.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPULATENTATTENTION
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using host::cIdx;
using namespace mlir::dsv3::gpu_kernels;

namespace {

/// Elements per vector access: 16 bytes of bf16, so the cache rows, queries
/// and partials are read by 16-byte (or, for f32, 32-byte) loads.
constexpr int64_t kVec = 8;

/// The largest of 16, 8, 4, 2, 1 that divides `n`.
int64_t pow2Divisor(int64_t n, int64_t most = 16) {
  int64_t d = most;
  while (n % d != 0)
    d /= 2;
  return d;
}

/// A read of `kVec` consecutive elements of `src` at `idx` (in bounds), in
/// f32.
Value readVec(OpBuilder &b, Location loc, Value src, ValueRange idx) {
  Type elem = cast<ShapedType>(src.getType()).getElementType();
  Value pad = arith::ConstantOp::create(b, loc, elem, b.getZeroAttr(elem));
  return toF32(
      b, loc,
      vector::TransferReadOp::create(b, loc, VectorType::get({kVec}, elem), src,
                                     idx, pad, ArrayRef<bool>{true}));
}

struct Shapes {
  int64_t B, S, H, C, R, L;
  int64_t heads;        // per block (HG)
  int64_t keys;         // per tile (T)
  int64_t tiles;        // N
  int64_t keyLanes;     // threads across a tile's keys in phase A (KT)
  int64_t channelLanes; // threads across the C / 8 channel groups (X)
  bool mma;             // phases A and C as warp m16n8k16 contracts
  int64_t C8() const { return C / kVec; }
  int64_t groups() const { return C8() / channelLanes; } // G per thread
};

/// Warps of a tensor-core phase A, and the keys (columns of the scores) each
/// takes.
constexpr int64_t kScoreWarps = 8, kMmaK = 16, kMmaN = 8;
/// Padding of a scores row on tensor cores: the 8 rows a fragment store
/// writes at once fall in distinct banks.
constexpr int64_t kScorePad = 8;

/// Phase A on tensor cores: warp w takes the tile's keys [w T/8, (w+1) T/8),
/// G = T/64 groups of 8, unless none of them is visible. Over the C + R
/// channels, 16 at a time, it reads the 16 heads' query tile once and adds
/// its m16n8k16 product with each group's cache rows (rows at or past L,
/// in a short last tile, read row L - 8 instead: their scores, like those
/// of rows past kv_len, are never used), then writes the sums times the
/// scale into the shared scores. The bf16 products are exact in f32, so
/// only the order of the sums differs from phase A on CUDA cores.
Value warpScores(OpBuilder &b, Location loc, LatentAttentionOp op,
                 const Shapes &sh, bool sharedMemory, Value bIdx, Value iIdx,
                 Value h0, Value t0, Value e) {
  Type f32 = b.getF32Type();
  const int64_t perWarp = sh.keys / kScoreWarps;
  const int64_t groups = perWarp / kMmaN;
  auto accType = VectorType::get({sh.heads, kMmaN}, f32);
  float scale = op.getScale().convertToFloat();
  Value buffer =
      sharedBuffer(b, loc, {sh.heads, sh.keys + kScorePad}, f32, sharedMemory);
  return warpForall(
      b, loc, kScoreWarps, {buffer},
      [&](OpBuilder &b, Location loc, ValueRange ivs,
          ValueRange outs) -> SmallVector<Slot> {
        Value lo = arith::MulIOp::create(b, loc, ivs[0], cIdx(b, loc, perWarp));
        Slot at{Value(),
                {b.getIndexAttr(0), lo},
                indexAttrs(b, {sh.heads, perWarp}),
                indexAttrs(b, {1, 1})};
        Value slot =
            extractSlot(b, loc, RankedTensorType::get({sh.heads, perWarp}, f32),
                        outs[0], at);
        SmallVector<Value> rows;
        Value lastGroup = cIdx(b, loc, sh.L - kMmaN);
        for (int64_t j = 0; j < groups; ++j) {
          Value t = arith::AddIOp::create(
              b, loc, t0,
              arith::AddIOp::create(b, loc, lo, cIdx(b, loc, j * kMmaN)));
          rows.push_back(arith::MinSIOp::create(b, loc, t, lastGroup));
        }
        // Σ over `width` channels of q[.., c] · cache[rows_j, c], onto acc.
        auto product = [&](OpBuilder &b, Location loc, Value q, Value cache,
                           int64_t width, ValueRange acc) -> ValueRange {
          return scf::ForOp::create(
                     b, loc, cIdx(b, loc, 0), cIdx(b, loc, width),
                     cIdx(b, loc, kMmaK), acc,
                     [&](OpBuilder &b, Location loc, Value c, ValueRange it) {
                       Value a =
                           readTileF32(b, loc, q, ValueRange{bIdx, iIdx, h0, c},
                                       sh.heads, kMmaK);
                       SmallVector<Value> next;
                       for (int64_t j = 0; j < groups; ++j) {
                         Value kt = readTileF32(b, loc, cache,
                                                ValueRange{bIdx, rows[j], c},
                                                kMmaN, kMmaK);
                         next.push_back(warpContract(b, loc, a, kt, it[j]));
                       }
                       scf::YieldOp::create(b, loc, next);
                     })
              .getResults();
        };
        // A warp none of whose keys is visible reads nothing.
        Value any =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, e, lo);
        auto ifOp = scf::IfOp::create(
            b, loc, any,
            [&](OpBuilder &b, Location loc) {
              Value zero = arith::ConstantOp::create(
                  b, loc, DenseElementsAttr::get(accType, 0.0f));
              SmallVector<Value> acc(groups, zero);
              ValueRange sums =
                  product(b, loc, op.getQNope(), op.getCKv(), sh.C, acc);
              sums = product(b, loc, op.getQPe(), op.getKPe(), sh.R, sums);
              Value scales = vector::BroadcastOp::create(b, loc, accType,
                                                         cF32(b, loc, scale));
              Value written = slot;
              for (int64_t j = 0; j < groups; ++j)
                written =
                    vector::TransferWriteOp::create(
                        b, loc, arith::MulFOp::create(b, loc, sums[j], scales),
                        written,
                        ValueRange{cIdx(b, loc, 0), cIdx(b, loc, j * kMmaN)},
                        ArrayRef<bool>{true, true})
                        .getResult();
              scf::YieldOp::create(b, loc, written);
            },
            [&](OpBuilder &b, Location loc) {
              scf::YieldOp::create(b, loc, slot);
            });
        at.part = ifOp.getResult(0);
        return {at};
      })[0];
}

/// Phase C on tensor cores: warp w takes channels [w C/8, (w+1) C/8) as
/// n-tiles of 8 and walks the visible keys 16 at a time: the normalized
/// probabilities' [16 heads, 16 keys] tile from shared memory, as three
/// bf16 terms whose sum is the f32 value (hi = bf16(p), mid = bf16(p - hi),
/// lo = p - hi - mid: exact for p >= 2^-110, within 2^-126 below, where lo
/// is subnormal), and for each n-tile the cache's
/// [8 channels, 16 keys] tile (the rows read as columns; keys at or past
/// the visible count e are 0, not read: rows there may hold anything), one
/// m16n8k16 contract per term, small terms first. The products are exact
/// in f32, so only the order of the sums differs from phase C on CUDA cores
/// (which scales by 1 / Σp at the end instead of normalizing p first).
Value warpWeightedSum(OpBuilder &b, Location loc, LatentAttentionOp op,
                      const Shapes &sh, Value probs, Value bIdx, Value t0,
                      Value e, Value oBlock) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  Type half = cast<ShapedType>(op.getCKv().getType()).getElementType();
  const int64_t perWarp = sh.C / kScoreWarps, tiles = perWarp / kMmaN;
  auto accType = VectorType::get({sh.heads, kMmaN}, f32);
  auto pType = VectorType::get({sh.heads, kMmaK}, f32);
  // The visible rows of the cache, [e, C]: reads past them give 0.
  Value rows = tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic, sh.C}, half),
      op.getCKv(), ArrayRef<OpFoldResult>{bIdx, t0, b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), e, b.getIndexAttr(sh.C)},
      indexAttrs(b, {1, 1, 1}));
  auto transposed = AffineMap::get(
      2, 0, {getAffineDimExpr(1, ctx), getAffineDimExpr(0, ctx)}, ctx);
  return warpForall(
      b, loc, kScoreWarps, {oBlock},
      [&](OpBuilder &b, Location loc, ValueRange ivs,
          ValueRange outs) -> SmallVector<Slot> {
        Value c0 = arith::MulIOp::create(b, loc, ivs[0], cIdx(b, loc, perWarp));
        Value g0 =
            arith::MulIOp::create(b, loc, ivs[0], cIdx(b, loc, perWarp / kVec));
        Slot at{Value(),
                {b.getIndexAttr(0), g0, b.getIndexAttr(0)},
                indexAttrs(b, {sh.heads, perWarp / kVec, kVec}),
                indexAttrs(b, {1, 1, 1})};
        Value slot = extractSlot(
            b, loc,
            RankedTensorType::get({sh.heads, perWarp / kVec, kVec}, f32),
            outs[0], at);
        Value zero = arith::ConstantOp::create(
            b, loc, DenseElementsAttr::get(accType, 0.0f));
        Value steps =
            arith::CeilDivSIOp::create(b, loc, e, cIdx(b, loc, kMmaK));
        Value halfPad =
            arith::ConstantOp::create(b, loc, half, b.getZeroAttr(half));
        auto hType = VectorType::get({sh.heads, kMmaK}, half);
        auto loop = scf::ForOp::create(
            b, loc, cIdx(b, loc, 0), steps, cIdx(b, loc, 1),
            SmallVector<Value>(tiles, zero),
            [&](OpBuilder &b, Location loc, Value s, ValueRange it) {
              Value k0 = arith::MulIOp::create(b, loc, s, cIdx(b, loc, kMmaK));
              Value p = vector::TransferReadOp::create(
                  b, loc, pType, probs, ValueRange{cIdx(b, loc, 0), k0},
                  cF32(b, loc, 0.0f), ArrayRef<bool>{true, true});
              Value hi = arith::TruncFOp::create(b, loc, hType, p);
              Value r = arith::SubFOp::create(b, loc, p, toF32(b, loc, hi));
              Value mid = arith::TruncFOp::create(b, loc, hType, r);
              Value lo = arith::TruncFOp::create(
                  b, loc, hType,
                  arith::SubFOp::create(b, loc, r, toF32(b, loc, mid)));
              Value terms[3] = {toF32(b, loc, lo), toF32(b, loc, mid),
                                toF32(b, loc, hi)};
              SmallVector<Value> next;
              for (int64_t j = 0; j < tiles; ++j) {
                Value col =
                    arith::AddIOp::create(b, loc, c0, cIdx(b, loc, j * kMmaN));
                Value v = toF32(
                    b, loc,
                    vector::TransferReadOp::create(
                        b, loc, VectorType::get({kMmaN, kMmaK}, half), rows,
                        ValueRange{k0, col}, AffineMapAttr::get(transposed),
                        halfPad, /*mask=*/Value(),
                        b.getBoolArrayAttr({true, false})));
                Value acc = it[j];
                for (Value term : terms)
                  acc = warpContract(b, loc, term, v, acc);
                next.push_back(acc);
              }
              scf::YieldOp::create(b, loc, next);
            });
        Value written = slot;
        for (int64_t j = 0; j < tiles; ++j) {
          SmallVector<OpFoldResult> offs = {
              b.getIndexAttr(0), b.getIndexAttr(j), b.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = indexAttrs(b, {sh.heads, 1, kVec});
          SmallVector<OpFoldResult> ones = indexAttrs(b, {1, 1, 1});
          auto tileType = RankedTensorType::get({sh.heads, kVec}, f32);
          Value part = tensor::ExtractSliceOp::create(b, loc, tileType, written,
                                                      offs, sizes, ones);
          part = vector::TransferWriteOp::create(
                     b, loc, loop.getResult(j), part,
                     ValueRange{cIdx(b, loc, 0), cIdx(b, loc, 0)},
                     ArrayRef<bool>{true, true})
                     .getResult();
          written = tensor::InsertSliceOp::create(b, loc, part, written, offs,
                                                  sizes, ones);
        }
        at.part = written;
        return {at};
      })[0];
}

/// Kernel 1 for one block: tile n of query bs = b * S + i, heads
/// [h0, h0 + HG). Returns the block's slots in (partial o, partial lse).
SmallVector<Slot> buildTileBlock(OpBuilder &b, Location loc,
                                 LatentAttentionOp op, const Shapes &sh,
                                 bool sharedMemory, Value n, Value bs, Value g,
                                 Value partialO, Value partialLse) {
  Type f32 = b.getF32Type();
  const float negInf = -std::numeric_limits<float>::infinity();
  Value bIdx = arith::DivUIOp::create(b, loc, bs, cIdx(b, loc, sh.S));
  Value iIdx = arith::RemUIOp::create(b, loc, bs, cIdx(b, loc, sh.S));
  Value h0 = arith::MulIOp::create(b, loc, g, cIdx(b, loc, sh.heads));
  Value t0 = arith::MulIOp::create(b, loc, n, cIdx(b, loc, sh.keys));

  // Keys t < hi are visible to query i: t <= start_pos + i and t < kv_len
  // (docs/semantics.md §10.5). start_pos is clamped to L first, so the sum
  // cannot wrap whatever the position; e is this tile's visible count.
  auto position = [&](Value tensor) -> Value {
    Value v = tensor::ExtractOp::create(b, loc, tensor, ValueRange{bIdx});
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  Value cL = cIdx(b, loc, sh.L);
  Value start = arith::MinSIOp::create(b, loc, position(op.getStartPos()), cL);
  Value causalEnd = arith::AddIOp::create(
      b, loc, start, arith::AddIOp::create(b, loc, iIdx, cIdx(b, loc, 1)));
  // hi in [0, L]: clamped below too, so that hi - t0 cannot wrap for a
  // (nonsensical) start_pos or kv_len near the most negative value.
  Value hi = arith::MaxSIOp::create(
      b, loc, cIdx(b, loc, 0),
      arith::MinSIOp::create(
          b, loc,
          arith::MinSIOp::create(b, loc, causalEnd, position(op.getKvLen())),
          cL));
  Value e = arith::MaxSIOp::create(
      b, loc, cIdx(b, loc, 0),
      arith::MinSIOp::create(b, loc, arith::SubIOp::create(b, loc, hi, t0),
                             cIdx(b, loc, sh.keys)));

  // Phase A, thread (h, kl): scores of head h0 + h with keys
  // j = kl, kl + KT, ... of the tile; -inf where hidden (never read).
  const int64_t perThread = sh.keys / sh.keyLanes;
  float scale = op.getScale().convertToFloat();
  auto vecF32 = VectorType::get({kVec}, f32);
  Value scores =
      sh.mma
          ? warpScores(b, loc, op, sh, sharedMemory, bIdx, iIdx, h0, t0, e)
          : mappedForall(
                b, loc, {sh.heads, sh.keyLanes},
                {gpu::MappingId::DimY, gpu::MappingId::DimX}, /*blocks=*/false,
                {sharedBuffer(b, loc, {sh.heads, sh.keys}, f32, sharedMemory)},
                [&](OpBuilder &b, Location loc, ValueRange ivs,
                    ValueRange outs) {
                  Value h = ivs[0], kl = ivs[1];
                  Value head = arith::AddIOp::create(b, loc, h0, h);
                  Slot where{Value(),
                             {h, kl},
                             indexAttrs(b, {1, perThread}),
                             indexAttrs(b, {1, sh.keyLanes})};
                  Value row = extractSlot(
                      b, loc, RankedTensorType::get({1, perThread}, f32),
                      outs[0], where);
                  // Σ q·k over a row pair of width w, onto acc (8 lanes).
                  auto dotInto = [&](OpBuilder &b, Location loc, Value q,
                                     Value k, int64_t w, Value t,
                                     Value acc) -> Value {
                    return scf::ForOp::create(
                               b, loc, cIdx(b, loc, 0), cIdx(b, loc, w),
                               cIdx(b, loc, kVec), ValueRange{acc},
                               [&](OpBuilder &b, Location loc, Value c,
                                   ValueRange it) {
                                 Value qv =
                                     readVec(b, loc, q,
                                             ValueRange{bIdx, iIdx, head, c});
                                 Value kv =
                                     readVec(b, loc, k, ValueRange{bIdx, t, c});
                                 scf::YieldOp::create(
                                     b, loc,
                                     ValueRange{arith::AddFOp::create(
                                         b, loc, it[0],
                                         arith::MulFOp::create(b, loc, qv,
                                                               kv))});
                               })
                        .getResult(0);
                  };
                  auto keysLoop = scf::ForOp::create(
                      b, loc, cIdx(b, loc, 0), cIdx(b, loc, perThread),
                      cIdx(b, loc, 1), ValueRange{row},
                      [&](OpBuilder &b, Location loc, Value m, ValueRange it) {
                        Value j = arith::AddIOp::create(
                            b, loc, kl,
                            arith::MulIOp::create(b, loc, m,
                                                  cIdx(b, loc, sh.keyLanes)));
                        Value visible = arith::CmpIOp::create(
                            b, loc, arith::CmpIPredicate::slt, j, e);
                        auto score = scf::IfOp::create(
                            b, loc, visible,
                            [&](OpBuilder &b, Location loc) {
                              Value t = arith::AddIOp::create(b, loc, t0, j);
                              Value acc = arith::ConstantOp::create(
                                  b, loc, vecF32,
                                  DenseElementsAttr::get(vecF32, 0.0f));
                              acc = dotInto(b, loc, op.getQNope(), op.getCKv(),
                                            sh.C, t, acc);
                              acc = dotInto(b, loc, op.getQPe(), op.getKPe(),
                                            sh.R, t, acc);
                              Value raw = vector::ReductionOp::create(
                                  b, loc, vector::CombiningKind::ADD, acc);
                              scf::YieldOp::create(
                                  b, loc,
                                  ValueRange{arith::MulFOp::create(
                                      b, loc, raw, cF32(b, loc, scale))});
                            },
                            [&](OpBuilder &b, Location loc) {
                              scf::YieldOp::create(
                                  b, loc, ValueRange{cF32(b, loc, negInf)});
                            });
                        scf::YieldOp::create(
                            b, loc,
                            ValueRange{tensor::InsertOp::create(
                                b, loc, score.getResult(0), it[0],
                                ValueRange{cIdx(b, loc, 0), m})});
                      });
                  where.part = keysLoop.getResult(0);
                  return SmallVector<Slot>{where};
                })[0];

  // Phase B, thread h: the row's maximum m over the visible keys, p = exp(s
  // - m) in place (0 where hidden), 1 / Σp, and the tile's log-sum-exp
  // m + log Σp (-inf, and 1 / Σp = 0, for a tile with no visible key).
  Value lseBlock =
      extractSlot(b, loc, RankedTensorType::get({sh.heads}, f32), partialLse,
                  Slot{Value(),
                       {n, bs, h0},
                       indexAttrs(b, {1, 1, sh.heads}),
                       indexAttrs(b, {1, 1, 1})});
  SmallVector<Value> softmax = mappedForall(
      b, loc, {sh.heads}, {gpu::MappingId::DimX}, /*blocks=*/false,
      {scores, sharedBuffer(b, loc, {sh.heads}, f32, sharedMemory), lseBlock},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        Value h = ivs[0];
        Slot rowAt{Value(),
                   {h, b.getIndexAttr(0)},
                   indexAttrs(b, {1, sh.keys}),
                   indexAttrs(b, {1, 1})};
        Value row = extractSlot(
            b, loc, RankedTensorType::get({1, sh.keys}, f32), outs[0], rowAt);
        Value c0 = cIdx(b, loc, 0);
        Value m =
            scf::ForOp::create(
                b, loc, c0, e, cIdx(b, loc, 1),
                ValueRange{cF32(b, loc, negInf)},
                [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
                  Value s =
                      tensor::ExtractOp::create(b, loc, row, ValueRange{c0, j});
                  scf::YieldOp::create(
                      b, loc,
                      ValueRange{arith::MaximumFOp::create(b, loc, it[0], s)});
                })
                .getResult(0);
        auto expLoop = scf::ForOp::create(
            b, loc, c0, cIdx(b, loc, sh.keys), cIdx(b, loc, 1),
            ValueRange{cF32(b, loc, 0.0f), row},
            [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
              Value s =
                  tensor::ExtractOp::create(b, loc, it[1], ValueRange{c0, j});
              Value visible = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::slt, j, e);
              Value p = arith::SelectOp::create(
                  b, loc, visible,
                  math::ExpOp::create(b, loc,
                                      arith::SubFOp::create(b, loc, s, m)),
                  cF32(b, loc, 0.0f));
              scf::YieldOp::create(
                  b, loc,
                  ValueRange{arith::AddFOp::create(b, loc, it[0], p),
                             tensor::InsertOp::create(b, loc, p, it[1],
                                                      ValueRange{c0, j})});
            });
        Value sum = expLoop.getResult(0);
        rowAt.part = expLoop.getResult(1);
        Value any =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, e, c0);
        Value inv = arith::SelectOp::create(
            b, loc, any, arith::DivFOp::create(b, loc, cF32(b, loc, 1.0f), sum),
            cF32(b, loc, 0.0f));
        Value lse = arith::SelectOp::create(
            b, loc, any,
            arith::AddFOp::create(b, loc, m, math::LogOp::create(b, loc, sum)),
            cF32(b, loc, negInf));
        if (sh.mma) {
          // Phase C on tensor cores takes normalized probabilities.
          rowAt.part =
              scf::ForOp::create(
                  b, loc, c0, e, cIdx(b, loc, 1), ValueRange{rowAt.part},
                  [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
                    Value p = tensor::ExtractOp::create(b, loc, it[0],
                                                        ValueRange{c0, j});
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{tensor::InsertOp::create(
                            b, loc, arith::MulFOp::create(b, loc, p, inv),
                            it[0], ValueRange{c0, j})});
                  })
                  .getResult(0);
        }
        auto scalarAt = [&](Value out, Value v) {
          Slot at{Value(), {h}, indexAttrs(b, {1}), indexAttrs(b, {1})};
          Value one =
              extractSlot(b, loc, RankedTensorType::get({1}, f32), out, at);
          at.part = tensor::InsertOp::create(b, loc, v, one, ValueRange{c0});
          return at;
        };
        return SmallVector<Slot>{rowAt, scalarAt(outs[1], inv),
                                 scalarAt(outs[2], lse)};
      });
  Value probs = softmax[0], invSum = softmax[1];

  // Phase C on CUDA cores, thread (h, x): for channel groups q = x + X k
  // (channels 8q .. 8q + 7), Σ_t p_t · c_kv[t0 + t, 8q..] over the visible
  // keys, in registers, times 1 / Σp. The partial output is [N, B*S, H, C/8,
  // 8], so a thread's groups are one strided slice.
  const int64_t groups = sh.groups();
  auto oType = RankedTensorType::get({sh.heads, sh.C8(), kVec}, f32);
  Slot oAt{Value(),
           {n, bs, h0, b.getIndexAttr(0), b.getIndexAttr(0)},
           indexAttrs(b, {1, 1, sh.heads, sh.C8(), kVec}),
           indexAttrs(b, {1, 1, 1, 1, 1})};
  Value oBlock = extractSlot(b, loc, oType, partialO, oAt);
  if (sh.mma)
    oAt.part = warpWeightedSum(b, loc, op, sh, probs, bIdx, t0, e, oBlock);
  else
    oAt.part = mappedForall(
        b, loc, {sh.heads, sh.channelLanes},
        {gpu::MappingId::DimY, gpu::MappingId::DimX}, /*blocks=*/false,
        {oBlock},
        [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
          Value h = ivs[0], x = ivs[1];
          Value c0 = cIdx(b, loc, 0);
          auto channel = [&](OpBuilder &b, Location loc, int64_t k) {
            Value q = arith::AddIOp::create(b, loc, x,
                                            cIdx(b, loc, k * sh.channelLanes));
            return arith::MulIOp::create(b, loc, q, cIdx(b, loc, kVec));
          };
          SmallVector<Value> zeros(
              groups,
              arith::ConstantOp::create(b, loc, vecF32,
                                        DenseElementsAttr::get(vecF32, 0.0f)));
          auto keysLoop = scf::ForOp::create(
              b, loc, c0, e, cIdx(b, loc, 1), zeros,
              [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
                Value p =
                    tensor::ExtractOp::create(b, loc, probs, ValueRange{h, j});
                Value pv = vector::BroadcastOp::create(b, loc, vecF32, p);
                Value t = arith::AddIOp::create(b, loc, t0, j);
                SmallVector<Value> next;
                for (int64_t k = 0; k < groups; ++k) {
                  Value v = readVec(b, loc, op.getCKv(),
                                    ValueRange{bIdx, t, channel(b, loc, k)});
                  next.push_back(arith::AddFOp::create(
                      b, loc, it[k], arith::MulFOp::create(b, loc, pv, v)));
                }
                scf::YieldOp::create(b, loc, next);
              });
          Value inv = vector::BroadcastOp::create(
              b, loc, vecF32,
              tensor::ExtractOp::create(b, loc, invSum, ValueRange{h}));
          Slot mine{Value(),
                    {h, x, b.getIndexAttr(0)},
                    indexAttrs(b, {1, groups, kVec}),
                    indexAttrs(b, {1, sh.channelLanes, 1})};
          Value part =
              extractSlot(b, loc, RankedTensorType::get({1, groups, kVec}, f32),
                          outs[0], mine);
          // Scalar stores: the NVVM lowering leaves a vector store into a
          // strided view unconverted.
          for (int64_t k = 0; k < groups; ++k) {
            Value o = arith::MulFOp::create(b, loc, keysLoop.getResult(k), inv);
            for (int64_t l = 0; l < kVec; ++l)
              part = tensor::InsertOp::create(
                  b, loc, vector::ExtractOp::create(b, loc, o, l), part,
                  ValueRange{c0, cIdx(b, loc, k), cIdx(b, loc, l)});
          }
          mine.part = part;
          return SmallVector<Slot>{mine};
        })[0];
  Slot lseAt{softmax[2],
             {n, bs, h0},
             indexAttrs(b, {1, 1, sh.heads}),
             indexAttrs(b, {1, 1, 1})};
  return {oAt, lseAt};
}

/// Kernel 2 for one block: query bs = b * S + i, heads [h0, h0 + HG):
/// out = Σ_n w_n o_n / Σ_n w_n with w_n = exp(lse_n - max_n lse_n), 0 where
/// no tile saw a key; lse = max + log Σ w.
SmallVector<Slot> buildMergeBlock(OpBuilder &b, Location loc,
                                  LatentAttentionOp op, const Shapes &sh,
                                  Value bs, Value g, Value partialO,
                                  Value partialLse, ValueRange outs) {
  Type f32 = b.getF32Type();
  Type yElem = op.getResult().getType().getElementType();
  const float negInf = -std::numeric_limits<float>::infinity();
  auto vecF32 = VectorType::get({kVec}, f32);
  Value bIdx = arith::DivUIOp::create(b, loc, bs, cIdx(b, loc, sh.S));
  Value iIdx = arith::RemUIOp::create(b, loc, bs, cIdx(b, loc, sh.S));
  Value h0 = arith::MulIOp::create(b, loc, g, cIdx(b, loc, sh.heads));
  const int64_t groups = sh.groups();

  auto lseOf = [&](OpBuilder &b, Location loc, Value n, Value head) -> Value {
    return tensor::ExtractOp::create(b, loc, partialLse,
                                     ValueRange{n, bs, head});
  };
  // (max_n lse_n, shift) of head `head`: the shift is the maximum, or 0
  // when every tile saw nothing (then every weight is exactly 0).
  auto maxLse = [&](OpBuilder &b, Location loc,
                    Value head) -> std::pair<Value, Value> {
    Value m =
        scf::ForOp::create(
            b, loc, cIdx(b, loc, 0), cIdx(b, loc, sh.tiles), cIdx(b, loc, 1),
            ValueRange{cF32(b, loc, negInf)},
            [&](OpBuilder &b, Location loc, Value n, ValueRange it) {
              scf::YieldOp::create(b, loc,
                                   ValueRange{arith::MaximumFOp::create(
                                       b, loc, it[0], lseOf(b, loc, n, head))});
            })
            .getResult(0);
    Value none = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m,
                                       cF32(b, loc, negInf));
    return {m, arith::SelectOp::create(b, loc, none, cF32(b, loc, 0.0f), m)};
  };

  Slot outAt{Value(),
             {bIdx, iIdx, h0, b.getIndexAttr(0), b.getIndexAttr(0)},
             indexAttrs(b, {1, 1, sh.heads, sh.C8(), kVec}),
             indexAttrs(b, {1, 1, 1, 1, 1})};
  Value outBlock = extractSlot(
      b, loc, RankedTensorType::get({sh.heads, sh.C8(), kVec}, yElem), outs[0],
      outAt);
  outAt.part = mappedForall(
      b, loc, {sh.heads, sh.channelLanes},
      {gpu::MappingId::DimY, gpu::MappingId::DimX}, /*blocks=*/false,
      {outBlock},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange touts) {
        Value h = ivs[0], x = ivs[1];
        Value head = arith::AddIOp::create(b, loc, h0, h);
        Value shift = maxLse(b, loc, head).second;
        Value c0 = cIdx(b, loc, 0);
        SmallVector<Value> init(
            groups, arith::ConstantOp::create(
                        b, loc, vecF32, DenseElementsAttr::get(vecF32, 0.0f)));
        init.push_back(cF32(b, loc, 0.0f));
        auto tilesLoop = scf::ForOp::create(
            b, loc, c0, cIdx(b, loc, sh.tiles), cIdx(b, loc, 1), init,
            [&](OpBuilder &b, Location loc, Value n, ValueRange it) {
              Value w = math::ExpOp::create(
                  b, loc,
                  arith::SubFOp::create(b, loc, lseOf(b, loc, n, head), shift));
              Value wv = vector::BroadcastOp::create(b, loc, vecF32, w);
              SmallVector<Value> next;
              for (int64_t k = 0; k < groups; ++k) {
                Value q = arith::AddIOp::create(
                    b, loc, x, cIdx(b, loc, k * sh.channelLanes));
                Value o =
                    readVec(b, loc, partialO, ValueRange{n, bs, head, q, c0});
                next.push_back(arith::AddFOp::create(
                    b, loc, it[k], arith::MulFOp::create(b, loc, wv, o)));
              }
              next.push_back(arith::AddFOp::create(b, loc, it[groups], w));
              scf::YieldOp::create(b, loc, next);
            });
        Value sum = tilesLoop.getResult(groups);
        Value any = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                          sum, cF32(b, loc, 0.0f));
        Value sumV = vector::BroadcastOp::create(b, loc, vecF32, sum);
        Value zeroV = arith::ConstantOp::create(
            b, loc, vecF32, DenseElementsAttr::get(vecF32, 0.0f));
        Slot mine{Value(),
                  {h, x, b.getIndexAttr(0)},
                  indexAttrs(b, {1, groups, kVec}),
                  indexAttrs(b, {1, sh.channelLanes, 1})};
        Value part =
            extractSlot(b, loc, RankedTensorType::get({1, groups, kVec}, yElem),
                        touts[0], mine);
        for (int64_t k = 0; k < groups; ++k) {
          Value o = arith::SelectOp::create(
              b, loc, any,
              arith::DivFOp::create(b, loc, tilesLoop.getResult(k), sumV),
              zeroV);
          for (int64_t l = 0; l < kVec; ++l) {
            Value v = vector::ExtractOp::create(b, loc, o, l);
            if (!yElem.isF32())
              v = arith::TruncFOp::create(b, loc, yElem, v);
            part = tensor::InsertOp::create(
                b, loc, v, part,
                ValueRange{c0, cIdx(b, loc, k), cIdx(b, loc, l)});
          }
        }
        mine.part = part;
        return SmallVector<Slot>{mine};
      })[0];
  if (outs.size() == 1)
    return {outAt};

  // The merged log-sum-exp, one thread per head.
  Slot lseAt{Value(),
             {bIdx, iIdx, h0},
             indexAttrs(b, {1, 1, sh.heads}),
             indexAttrs(b, {1, 1, 1})};
  Value lseBlock = extractSlot(b, loc, RankedTensorType::get({sh.heads}, f32),
                               outs[1], lseAt);
  lseAt.part = mappedForall(
      b, loc, {sh.heads}, {gpu::MappingId::DimX}, /*blocks=*/false, {lseBlock},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange touts) {
        Value h = ivs[0];
        Value head = arith::AddIOp::create(b, loc, h0, h);
        auto [m, shift] = maxLse(b, loc, head);
        Value c0 = cIdx(b, loc, 0);
        Value sum =
            scf::ForOp::create(
                b, loc, c0, cIdx(b, loc, sh.tiles), cIdx(b, loc, 1),
                ValueRange{cF32(b, loc, 0.0f)},
                [&, shift = shift](OpBuilder &b, Location loc, Value n,
                                   ValueRange it) {
                  Value w = math::ExpOp::create(
                      b, loc,
                      arith::SubFOp::create(b, loc, lseOf(b, loc, n, head),
                                            shift));
                  scf::YieldOp::create(
                      b, loc,
                      ValueRange{arith::AddFOp::create(b, loc, it[0], w)});
                })
                .getResult(0);
        Value any = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                          sum, cF32(b, loc, 0.0f));
        Value lse = arith::SelectOp::create(
            b, loc, any,
            arith::AddFOp::create(b, loc, m, math::LogOp::create(b, loc, sum)),
            cF32(b, loc, negInf));
        Slot at{Value(), {h}, indexAttrs(b, {1}), indexAttrs(b, {1})};
        Value one =
            extractSlot(b, loc, RankedTensorType::get({1}, f32), touts[0], at);
        at.part = tensor::InsertOp::create(b, loc, lse, one, ValueRange{c0});
        return SmallVector<Slot>{at};
      })[0];
  return {outAt, lseAt};
}

SmallVector<Value> buildLatentAttention(OpBuilder &b, Location loc,
                                        LatentAttentionOp op, const Shapes &sh,
                                        bool sharedMemory) {
  Type f32 = b.getF32Type();
  auto yType = op.getResult().getType();
  const int64_t BS = sh.B * sh.S, G = sh.H / sh.heads;

  // Kernel 1: partial outputs and log-sum-exps of every key tile.
  Value partialO = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{sh.tiles, BS, sh.H, sh.C8(), kVec}, f32);
  Value partialLse = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{sh.tiles, BS, sh.H}, f32);
  SmallVector<Value> partials = mappedForall(
      b, loc, {sh.tiles, BS, G},
      {gpu::MappingId::DimX, gpu::MappingId::DimY, gpu::MappingId::DimZ},
      /*blocks=*/true, {partialO, partialLse},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        return buildTileBlock(b, loc, op, sh, sharedMemory, ivs[0], ivs[1],
                              ivs[2], outs[0], outs[1]);
      });

  // Kernel 2: the merge, written into the result viewed as
  // [B, S, H, C/8, 8] (so bufferization writes the result in place).
  SmallVector<ReassociationIndices> split = {{0}, {1}, {2}, {3, 4}};
  Value out =
      tensor::EmptyOp::create(b, loc, yType.getShape(), yType.getElementType());
  out = tensor::ExpandShapeOp::create(
      b, loc,
      RankedTensorType::get({sh.B, sh.S, sh.H, sh.C8(), kVec},
                            yType.getElementType()),
      out, split);
  SmallVector<Value> inits = {out};
  if (op.getLse())
    inits.push_back(tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{sh.B, sh.S, sh.H}, f32));
  SmallVector<Value> merged = mappedForall(
      b, loc, {BS, G}, {gpu::MappingId::DimX, gpu::MappingId::DimY},
      /*blocks=*/true, inits,
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        return buildMergeBlock(b, loc, op, sh, ivs[0], ivs[1], partials[0],
                               partials[1], outs);
      });
  merged[0] = tensor::CollapseShapeOp::create(b, loc, yType, merged[0], split);
  return merged;
}

struct Dsv3GPULatentAttention
    : dsv3::impl::Dsv3GPULatentAttentionBase<Dsv3GPULatentAttention> {
  using Base::Base;
  void runOnOperation() override {
    if (keysPerBlock < 1) {
      getOperation()->emitError("dsv3-gpu-latent-attention: keys-per-block "
                                "must be at least 1, got ")
          << static_cast<int64_t>(keysPerBlock);
      return signalPassFailure();
    }
    SmallVector<std::pair<LatentAttentionOp, Shapes>> ops;
    getOperation()->walk([&](LatentAttentionOp op) {
      auto q = op.getQNope().getType();
      auto qPe = op.getQPe().getType();
      auto cKv = op.getCKv().getType();
      if (!q.hasStaticShape() || !qPe.hasStaticShape() || !cKv.hasStaticShape())
        return;
      Shapes sh;
      sh.B = q.getDimSize(0);
      sh.S = q.getDimSize(1);
      sh.H = q.getDimSize(2);
      sh.C = q.getDimSize(3);
      sh.R = qPe.getDimSize(3);
      sh.L = cKv.getDimSize(1);
      // Decode and short verification chunks (MTP); prefill keeps the
      // definition. Channels in whole 8-element vectors.
      if (sh.S < 1 || sh.S > maxQueries || sh.C % kVec != 0 ||
          sh.R % kVec != 0 || sh.L < 1 || sh.H < 1 || sh.B < 1)
        return;
      sh.heads = pow2Divisor(sh.H);
      sh.keys = std::min<int64_t>(keysPerBlock, sh.L);
      sh.tiles = llvm::divideCeil(sh.L, sh.keys);
      sh.keyLanes = pow2Divisor(sh.keys);
      sh.channelLanes = pow2Divisor(sh.C8());
      // Scores on tensor cores: 16 heads (m16), whole 8-key groups per warp
      // and in the cache, whole 16-channel steps, 16-bit values (exact
      // products), and a block of at least the 8 warps (phase C's threads).
      auto sixteenBit = [](Type t) {
        Type e = cast<ShapedType>(t).getElementType();
        return e.isBF16() || e.isF16();
      };
      Type qElem = q.getElementType();
      sh.mma =
          tensorCores && sh.heads == 16 &&
          sh.keys % (kScoreWarps * kMmaN) == 0 && sh.L % kMmaN == 0 &&
          sh.C % (kScoreWarps * kMmaN) == 0 && sh.R % kMmaK == 0 &&
          sh.heads * sh.channelLanes >= kScoreWarps * 32 &&
          llvm::all_of(ArrayRef<Type>{q, qPe, cKv, op.getKPe().getType()},
                       [&](Type t) {
                         return sixteenBit(t) &&
                                cast<ShapedType>(t).getElementType() == qElem;
                       });
      ops.push_back({op, sh});
    });
    IRRewriter rewriter(&getContext());
    for (auto &[op, sh] : ops) {
      rewriter.setInsertionPoint(op);
      SmallVector<Value> results =
          buildLatentAttention(rewriter, op.getLoc(), op, sh, sharedMemory);
      rewriter.replaceOp(op, results);
    }
  }
};

} // namespace
