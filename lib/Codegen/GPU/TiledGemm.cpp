//===- TiledGemm.cpp - cuda strategy: shared-memory tiled FP8 GEMM --------===//
//
// A linear with more tokens than the decode GEMV takes (a prompt, or any
// dynamic token count) ran its definition: one thread per output walking all
// of K from global memory, a warp's threads reading weight rows K bytes
// apart. Here a block computes a 64 x 64 tile of the result from operand
// tiles staged in shared memory, one 128-wide K block (one weight-scale
// block) at a time, with the block-scaled scheme of DeepSeek's FP8 GEMMs: a
// fresh f32 sum per K block, scaled by the weight's block scale once and
// added to the tile's running result. Each thread holds a 4 x 4 register
// tile, so every staged element it reads feeds four products.
//
// The block's phases, per K block: 256 threads copy the activation tile
// [64, 128] and the weight tile [64, 128] into shared memory (8 contiguous
// elements per copy, whole rows per half-warp); then thread (ty, tx) adds
// the products of tokens ty + 16i and weight rows tx + 16j over the block
// and promotes them into a shared f32 [64, 64] result (phases cannot carry
// registers across their barriers). After the last K block each thread
// rounds its 16 elements into the result. This is the schedule a
// tensor-core version keeps: it replaces the per-thread products of a K
// block by wgmma over the same staged tiles.
//
// The grouped GEMM of a prompt's routed experts is the same kernel over
// (expert, 64-row tile of its segment) pairs, so a block reads one expert's
// weight tile, and an expert no row is routed to is never read.
//
//===----------------------------------------------------------------------===//

#include "../Host/KernelBuilders.h"
#include "ForallKernels.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUTILEDGEMM
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;
using host::cIdx;

namespace {

/// Weight rows per block, and tokens per block for 2-byte activations (f32
/// activations take half as many, so that the staged tile keeps its 16 KiB
/// and the block's shared memory stays under 48 KiB).
constexpr int64_t kTile = 64;
/// K columns per step: one 128 x 128 weight-scale block.
constexpr int64_t kBlockK = 128;
/// Threads per side of the block (16 x 16) and elements per thread per side.
constexpr int64_t kSide = 16;
constexpr int64_t kPer = kTile / kSide;

/// Tokens (rows of A) per block for activations of `elem`.
int64_t tokenTile(Type elem) {
  return elem.getIntOrFloatBitWidth() == 16 ? kTile : kTile / 2;
}
/// Elements per copy and per product step: 16 bytes of bf16, 8 of FP8.
constexpr int64_t kChunk = 8;
/// Padding of a staged weight row: 136-byte rows put the 16 rows a warp
/// reads at once in distinct bank pairs (128-byte rows would all hit one).
constexpr int64_t kWeightPad = 8;
/// Padding of a staged activation row and of the running result's rows:
/// with it, the rows an m16n8k16 fragment load (8 rows, 4 words each) or the
/// FMA product phase's threads touch at once fall in distinct banks.
constexpr int64_t kActivationPad = 8, kResultPad = 8;
/// The largest grid y extent.
constexpr int64_t kMaxGridY = 65535;
/// Tensor-core products: 8 warps, each an m16 x n32 part of the 64 x 64
/// tile (4 m16n8k16 products per 16-wide K step).
constexpr int64_t kWarps = 8, kWarpRows = 16, kWarpCols = 32, kMmaN = 8,
                  kMmaK = 16;

bool isActivationType(Type t) { return t.isBF16() || t.isF16() || t.isF32(); }

/// The ops the kernel takes: weight-only, an FP8 weight with its block
/// scale, bf16/f16/f32 activations of rank 2, K a multiple of 8 (whole 16-byte
/// copies) and at most 65535 weight tiles.
bool takesShapes(RankedTensorType x, RankedTensorType w, Value scale) {
  if (!scale || x.getRank() != 2 || !isActivationType(x.getElementType()) ||
      !w.hasStaticShape() || !isa<Float8E4M3FNType>(w.getElementType()) ||
      ShapedType::isDynamic(x.getDimSize(1)))
    return false;
  int64_t n = w.getDimSize(w.getRank() - 2), k = w.getDimSize(w.getRank() - 1);
  return n > 0 && k > 0 && k % kChunk == 0 &&
         llvm::divideCeil(n, kTile) <= kMaxGridY;
}

bool takes(Operation *op, int64_t minGroupedRows) {
  if (auto linear = dyn_cast<LinearOp>(op))
    return linear.getActQuant() == ActivationQuant::none &&
           takesShapes(linear.getInput().getType(),
                       linear.getWeight().getType(),
                       linear.getWeightScaleInv());
  if (auto grouped = dyn_cast<GroupedMatmulOp>(op)) {
    auto x = grouped.getInput().getType();
    // A static row count the decode GEMV takes stays with it.
    return (x.isDynamicDim(0) || x.getDimSize(0) >= minGroupedRows) &&
           takesShapes(x, grouped.getWeight().getType(),
                       grouped.getWeightScaleInv());
  }
  return false;
}

Value minIdx(OpBuilder &b, Location loc, Value a, Value c) {
  return arith::MinSIOp::create(b, loc, a, c);
}

/// Thread (ty, tx)'s slot of a [16 per, W] staging buffer: rows ty + 16i
/// (i < per), columns 8 tx .. 8 tx + 8.
Slot stagingSlot(OpBuilder &b, Location loc, Value ty, Value tx, int64_t per) {
  Value col = arith::MulIOp::create(b, loc, tx, cIdx(b, loc, kChunk));
  return Slot{Value(),
              {ty, col},
              indexAttrs(b, {per, kChunk}),
              indexAttrs(b, {kSide, 1})};
}

/// Copies thread (ty, tx)'s chunks of `src[prefix..]` rows `first + ty + 16i`
/// (clamped to `lastRow`) at columns `k0 + 8 tx` (clamped to `lastCol`)
/// into its slot of `buffer`. Clamped copies repeat valid data that no
/// product reads (rows past M or N, columns past a short last K block).
Value stage(OpBuilder &b, Location loc, Value src, ValueRange prefix,
            Value buffer, Value first, Value lastRow, Value k0, Value lastCol,
            Value ty, Value tx, Slot &at) {
  auto type = cast<RankedTensorType>(buffer.getType());
  Type elem = type.getElementType();
  auto vec = VectorType::get({kChunk}, elem);
  const int64_t per = type.getDimSize(0) / kSide;
  at = stagingSlot(b, loc, ty, tx, per);
  Value slot = extractSlot(b, loc, RankedTensorType::get({per, kChunk}, elem),
                           buffer, at);
  Value col = minIdx(
      b, loc, arith::AddIOp::create(b, loc, k0, cast<Value>(at.offsets[1])),
      lastCol);
  Value pad = arith::ConstantOp::create(b, loc, elem, b.getZeroAttr(elem));
  for (int64_t i = 0; i < per; ++i) {
    Value row = arith::AddIOp::create(
        b, loc, first,
        arith::AddIOp::create(b, loc, ty, cIdx(b, loc, i * kSide)));
    row = minIdx(b, loc, row, lastRow);
    SmallVector<Value> idx(prefix);
    idx.append({row, col});
    Value v = vector::TransferReadOp::create(b, loc, vec, src, idx, pad,
                                             ArrayRef<bool>{true});
    slot = vector::TransferWriteOp::create(
               b, loc, v, slot, ValueRange{cIdx(b, loc, i), cIdx(b, loc, 0)},
               ArrayRef<bool>{true})
               .getResult();
  }
  return slot;
}

/// Where a block's rows come from: `r0` (the first), `rows` (how many, 0
/// for a block without work) and the weight's leading index (the expert).
struct RowTile {
  Value r0, rows;
  SmallVector<Value> weightPrefix;
};

/// The (expert, tileM-row tile) pair of block `bx` of a grouped GEMM:
/// experts' tiles are numbered in expert order, ceil(rows_e / tileM) each.
/// Segments are clamped to be disjoint and within [0, R) (offsets[e] is raised
/// to the previous segment's end), so lying offsets cannot make two blocks
/// write one row or read past A. A block past the last tile gets no rows.
RowTile groupedTile(OpBuilder &b, Location loc, Value offsets, Value r,
                    int64_t experts, int64_t tileM, Value bx) {
  auto offsetAt = [&](OpBuilder &b, Location loc, Value e) -> Value {
    Value v = tensor::ExtractOp::create(b, loc, offsets, e);
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  };
  Value zero = cIdx(b, loc, 0);
  // iter: (tiles before e, end of segment e - 1, r0, rows, expert)
  auto scan = scf::ForOp::create(
      b, loc, zero, cIdx(b, loc, experts), cIdx(b, loc, 1),
      ValueRange{zero, zero, zero, zero, zero},
      [&](OpBuilder &b, Location loc, Value e, ValueRange it) {
        Value before = it[0], prevEnd = it[1];
        Value start =
            arith::MaxSIOp::create(b, loc, offsetAt(b, loc, e), prevEnd);
        start = minIdx(b, loc, start, r);
        Value next = arith::AddIOp::create(b, loc, e, cIdx(b, loc, 1));
        Value end =
            arith::MaxSIOp::create(b, loc, offsetAt(b, loc, next), start);
        end = minIdx(b, loc, end, r);
        Value count = arith::SubIOp::create(b, loc, end, start);
        Value tiles =
            arith::CeilDivSIOp::create(b, loc, count, cIdx(b, loc, tileM));
        Value after = arith::AddIOp::create(b, loc, before, tiles);
        Value mine = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, bx,
                                  before),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, bx,
                                  after));
        Value r0 = arith::AddIOp::create(
            b, loc, start,
            arith::MulIOp::create(b, loc,
                                  arith::SubIOp::create(b, loc, bx, before),
                                  cIdx(b, loc, tileM)));
        Value rows = minIdx(b, loc, cIdx(b, loc, tileM),
                            arith::SubIOp::create(b, loc, end, r0));
        auto pick = [&](Value yes, Value no) -> Value {
          return arith::SelectOp::create(b, loc, mine, yes, no);
        };
        scf::YieldOp::create(b, loc,
                             ValueRange{after, end, pick(r0, it[2]),
                                        pick(rows, it[3]), pick(e, it[4])});
      });
  return RowTile{scan.getResult(2), scan.getResult(3), {scan.getResult(4)}};
}

/// The tensor-core products of one K block: warp w adds Σ_k x·q over
/// `steps` 16-wide steps for its tokens 16 (w / 2) .. + 16 and weight rows
/// 32 (w % 2) .. + 32, as four m16n8k16 contracts per step on f32 tiles
/// widened from the staged bf16/f16 activations and FP8 weights, then
/// promotes them: acc = (first ? 0 : acc) + sum · scale. On cuda,
/// dsv3-gpu-warp-mma makes each contract an mma.sync.
Value warpProducts(OpBuilder &b, Location loc, Value xTile, Value wTile,
                   Value accIn, Value scale, Value first, int64_t steps) {
  Type f32 = b.getF32Type();
  auto accType = VectorType::get({kWarpRows, kMmaN}, f32);
  return warpForall(
      b, loc, kWarps, ValueRange{accIn},
      [&](OpBuilder &b, Location loc, ValueRange ivs,
          ValueRange outs) -> SmallVector<Slot> {
        Value w = ivs[0];
        Value two = cIdx(b, loc, kTile / kWarpCols);
        Value r0 = arith::MulIOp::create(b, loc,
                                         arith::DivUIOp::create(b, loc, w, two),
                                         cIdx(b, loc, kWarpRows));
        Value c0 = arith::MulIOp::create(b, loc,
                                         arith::RemUIOp::create(b, loc, w, two),
                                         cIdx(b, loc, kWarpCols));
        Value zero = arith::ConstantOp::create(
            b, loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0f)));
        constexpr int64_t parts = kWarpCols / kMmaN;
        SmallVector<Value> inits(parts, zero);
        auto loop = scf::ForOp::create(
            b, loc, cIdx(b, loc, 0), cIdx(b, loc, steps), cIdx(b, loc, 1),
            inits, [&](OpBuilder &b, Location loc, Value kk, ValueRange sums) {
              Value col =
                  arith::MulIOp::create(b, loc, kk, cIdx(b, loc, kMmaK));
              Value a = readTileF32(b, loc, xTile, ValueRange{r0, col},
                                    kWarpRows, kMmaK);
              SmallVector<Value> next;
              for (int64_t j = 0; j < parts; ++j) {
                Value row = j == 0 ? c0
                                   : arith::AddIOp::create(
                                         b, loc, c0, cIdx(b, loc, j * kMmaN))
                                         .getResult();
                Value q = readTileF32(b, loc, wTile, ValueRange{row, col},
                                      kMmaN, kMmaK);
                next.push_back(warpContract(b, loc, a, q, sums[j]));
              }
              scf::YieldOp::create(b, loc, next);
            });
        Slot at{Value(),
                {r0, c0},
                indexAttrs(b, {kWarpRows, kWarpCols}),
                indexAttrs(b, {1, 1})};
        Value mine = extractSlot(
            b, loc, RankedTensorType::get({kWarpRows, kWarpCols}, f32), outs[0],
            at);
        Value scales = vector::BroadcastOp::create(b, loc, accType, scale);
        Value pad = cF32(b, loc, 0.0f);
        for (int64_t j = 0; j < parts; ++j) {
          SmallVector<Value> ij = {cIdx(b, loc, 0), cIdx(b, loc, j * kMmaN)};
          Value v = arith::MulFOp::create(b, loc, loop.getResult(j), scales);
          Value old = vector::TransferReadOp::create(
              b, loc, accType, mine, ij, pad, ArrayRef<bool>{true, true});
          Value sum = arith::AddFOp::create(b, loc, old, v);
          mine = vector::TransferWriteOp::create(
                     b, loc, arith::SelectOp::create(b, loc, first, v, sum),
                     mine, ij, ArrayRef<bool>{true, true})
                     .getResult();
        }
        at.part = mine;
        return {at};
      })[0];
}

Value buildGemm(OpBuilder &b, Location loc, Operation *op, bool sharedMemory,
                bool tensorCores) {
  MLIRContext *ctx = b.getContext();
  auto linear = dyn_cast<LinearOp>(op);
  auto grouped = dyn_cast<GroupedMatmulOp>(op);
  Value x = linear ? linear.getInput() : grouped.getInput();
  Value w = linear ? linear.getWeight() : grouped.getWeight();
  Value s = linear ? linear.getWeightScaleInv() : grouped.getWeightScaleInv();
  Value offsets = grouped ? grouped.getOffsets() : Value();
  auto xType = cast<RankedTensorType>(x.getType());
  auto wType = cast<RankedTensorType>(w.getType());
  auto yType = cast<RankedTensorType>(op->getResult(0).getType());
  Type xElem = xType.getElementType(), wElem = wType.getElementType();
  Type yElem = yType.getElementType();
  const int64_t wRank = wType.getRank();
  const int64_t n = wType.getDimSize(wRank - 2),
                k = wType.getDimSize(wRank - 1);
  const int64_t experts = grouped ? wType.getDimSize(0) : 0;
  const int64_t fullBlocks = k / kBlockK, tailK = k % kBlockK;
  const int64_t tileM = tokenTile(xElem), perM = tileM / kSide;
  // Tensor cores take 2-byte activations (exact products with the FP8
  // weights, which bf16 and f16 hold) in whole 16-wide K steps.
  const bool mma =
      tensorCores && xElem.getIntOrFloatBitWidth() == 16 && k % kMmaK == 0;

  OpFoldResult mSize = tensor::getMixedSize(b, loc, x, 0);
  Value m = getValueOrCreateConstantIndexOp(b, loc, mSize);
  Value mTiles = arith::CeilDivSIOp::create(b, loc, m, cIdx(b, loc, tileM));
  Value init = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{mSize, b.getIndexAttr(n)}, yElem);
  if (grouped) {
    // Rows outside every segment are 0, and no block writes them: a fill
    // first, a kernel of its own named for what it does. Each expert adds
    // at most one partial tile, so ceil(R / T) + E blocks cover all tiles
    // (none for R = 0, where no row exists to read).
    Location fillLoc = withNameSuffix(loc, "_zero_fill");
    init = linalg::FillOp::create(b, fillLoc,
                                  arith::ConstantOp::create(
                                      b, fillLoc, yElem, b.getZeroAttr(yElem))
                                      .getResult(),
                                  init)
               .getResult(0);
    Value withExperts =
        arith::AddIOp::create(b, loc, mTiles, cIdx(b, loc, experts));
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, m,
                                      cIdx(b, loc, 0));
    mTiles = arith::SelectOp::create(b, loc, any, withExperts, mTiles);
  }

  auto blocks = b.getArrayAttr(
      {gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimX),
       gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimY)});
  auto forall = scf::ForallOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{mTiles,
                             b.getIndexAttr(llvm::divideCeil(n, kTile))},
      ValueRange{init}, blocks,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value mt = args[0], nt = args[1], out = args[2];
        Value tile = cIdx(b, loc, kTile), tokens = cIdx(b, loc, tileM);
        Value n0 = arith::MulIOp::create(b, loc, nt, tile);
        RowTile rowTile;
        if (grouped) {
          rowTile = groupedTile(b, loc, offsets, m, experts, tileM, mt);
        } else {
          rowTile.r0 = arith::MulIOp::create(b, loc, mt, tokens);
          rowTile.rows = minIdx(b, loc, tokens,
                                arith::SubIOp::create(b, loc, m, rowTile.r0));
        }
        Value m0 = rowTile.r0, rows = rowTile.rows;
        ValueRange wPrefix = rowTile.weightPrefix;
        Value lastRowX = arith::SubIOp::create(b, loc, m, cIdx(b, loc, 1));
        Value lastRowW = cIdx(b, loc, n - 1);
        Value lastCol = cIdx(b, loc, k - kChunk);
        Value cols = minIdx(b, loc, tile,
                            arith::SubIOp::create(b, loc, cIdx(b, loc, n), n0));
        // The 64 rows of a tile lie in one 128-row scale block.
        Value scaleRow =
            arith::DivUIOp::create(b, loc, n0, cIdx(b, loc, kBlockK));
        Value xs = sharedBuffer(b, loc, {tileM, kBlockK + kActivationPad},
                                xElem, sharedMemory);
        Value ws = sharedBuffer(b, loc, {kTile, kBlockK + kWeightPad}, wElem,
                                sharedMemory);
        Value acc = sharedBuffer(b, loc, {tileM, kTile + kResultPad},
                                 b.getF32Type(), sharedMemory);

        // One K block: stage, then add its scaled products to `acc` (which
        // `first` initializes). `chunks` 8-column steps are read.
        auto kBlock = [&](OpBuilder &b, Location loc, Value kb, int64_t chunks,
                          Value first, Value xsIn, Value wsIn,
                          Value accIn) -> SmallVector<Value> {
          Value k0 = arith::MulIOp::create(b, loc, kb, cIdx(b, loc, kBlockK));
          SmallVector<Value> staged = mappedForall(
              b, loc, {kSide, kSide},
              {gpu::MappingId::DimY, gpu::MappingId::DimX},
              /*blocks=*/false, ValueRange{xsIn, wsIn},
              [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
                Slot xAt, wAt;
                xAt.part = stage(b, loc, x, {}, outs[0], m0, lastRowX, k0,
                                 lastCol, ivs[0], ivs[1], xAt);
                wAt.part = stage(b, loc, w, wPrefix, outs[1], n0, lastRowW, k0,
                                 lastCol, ivs[0], ivs[1], wAt);
                return SmallVector<Slot>{xAt, wAt};
              });
          Value xTile = staged[0], wTile = staged[1];
          SmallVector<Value> scaleAt(wPrefix);
          scaleAt.append({scaleRow, kb});
          Value scale =
              toF32(b, loc, tensor::ExtractOp::create(b, loc, s, scaleAt));
          if (mma)
            return {xTile, wTile,
                    warpProducts(b, loc, xTile, wTile, accIn, scale, first,
                                 chunks * kChunk / kMmaK)};
          SmallVector<Value> accumulated = mappedForall(
              b, loc, {kSide, kSide},
              {gpu::MappingId::DimY, gpu::MappingId::DimX},
              /*blocks=*/false, ValueRange{accIn},
              [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
                Value ty = ivs[0], tx = ivs[1];
                SmallVector<Value> xRows, wRows;
                for (int64_t i = 0; i < kPer; ++i) {
                  Value off = cIdx(b, loc, i * kSide);
                  if (i < perM)
                    xRows.push_back(arith::AddIOp::create(b, loc, ty, off));
                  wRows.push_back(arith::AddIOp::create(b, loc, tx, off));
                }
                Value zero = cF32(b, loc, 0.0f);
                SmallVector<Value> inits(perM * kPer, zero);
                // Σ over the block's columns in order of f32(x) · f32(q),
                // 8 columns per step, for the thread's perM x 4 (token, row)
                // pairs.
                auto loop = scf::ForOp::create(
                    b, loc, cIdx(b, loc, 0), cIdx(b, loc, chunks),
                    cIdx(b, loc, 1), inits,
                    [&](OpBuilder &b, Location loc, Value c, ValueRange sums) {
                      Value kk = arith::MulIOp::create(b, loc, c,
                                                       cIdx(b, loc, kChunk));
                      auto read = [&](Value tileBuf, Value row) {
                        Type elem = cast<RankedTensorType>(tileBuf.getType())
                                        .getElementType();
                        Value pad = arith::ConstantOp::create(
                            b, loc, elem, b.getZeroAttr(elem));
                        return toF32(b, loc,
                                     vector::TransferReadOp::create(
                                         b, loc,
                                         VectorType::get({kChunk}, elem),
                                         tileBuf, ValueRange{row, kk}, pad,
                                         ArrayRef<bool>{true}));
                      };
                      SmallVector<Value> xv, wv;
                      for (Value row : xRows)
                        xv.push_back(read(xTile, row));
                      for (Value row : wRows)
                        wv.push_back(read(wTile, row));
                      // Each lane's scalars once, then a fused
                      // multiply-add per product, k ascending (one rounding
                      // per product and sum; math.fma is llvm.fma on both
                      // targets, so cuda-sim rounds as the GPU does).
                      auto lanes = [&](Value v) {
                        SmallVector<Value> out;
                        for (int64_t l = 0; l < kChunk; ++l)
                          out.push_back(
                              vector::ExtractOp::create(b, loc, v, l));
                        return out;
                      };
                      SmallVector<SmallVector<Value>> xl, wl;
                      for (Value v : xv)
                        xl.push_back(lanes(v));
                      for (Value v : wv)
                        wl.push_back(lanes(v));
                      SmallVector<Value> next;
                      for (int64_t i = 0; i < perM; ++i)
                        for (int64_t j = 0; j < kPer; ++j) {
                          Value sum = sums[i * kPer + j];
                          for (int64_t l = 0; l < kChunk; ++l)
                            sum = math::FmaOp::create(b, loc, xl[i][l],
                                                      wl[j][l], sum);
                          next.push_back(sum);
                        }
                      scf::YieldOp::create(b, loc, next);
                    });
                // Promote: acc = (first ? 0 : acc) + sum · scale.
                Slot at{Value(),
                        {ty, tx},
                        indexAttrs(b, {perM, kPer}),
                        indexAttrs(b, {kSide, kSide})};
                Value mine = extractSlot(
                    b, loc, RankedTensorType::get({perM, kPer}, b.getF32Type()),
                    outs[0], at);
                for (int64_t i = 0; i < perM; ++i)
                  for (int64_t j = 0; j < kPer; ++j) {
                    SmallVector<Value> ij = {cIdx(b, loc, i), cIdx(b, loc, j)};
                    Value v = arith::MulFOp::create(
                        b, loc, loop.getResult(i * kPer + j), scale);
                    Value old = tensor::ExtractOp::create(b, loc, mine, ij);
                    Value sum = arith::AddFOp::create(b, loc, old, v);
                    mine = tensor::InsertOp::create(
                        b, loc, arith::SelectOp::create(b, loc, first, v, sum),
                        mine, ij);
                  }
                at.part = mine;
                return SmallVector<Slot>{at};
              });
          return {xTile, wTile, accumulated[0]};
        };

        // All K blocks: whole ones in a loop, then a short last one.
        auto kBlocks = [&](OpBuilder &b, Location loc) -> Value {
          Value accNow = acc, xsNow = xs, wsNow = ws;
          if (fullBlocks > 0) {
            auto loop = scf::ForOp::create(
                b, loc, cIdx(b, loc, 0), cIdx(b, loc, fullBlocks),
                cIdx(b, loc, 1), ValueRange{xs, ws, acc},
                [&](OpBuilder &b, Location loc, Value kb, ValueRange it) {
                  Value first = arith::CmpIOp::create(
                      b, loc, arith::CmpIPredicate::eq, kb, cIdx(b, loc, 0));
                  scf::YieldOp::create(b, loc,
                                       kBlock(b, loc, kb, kBlockK / kChunk,
                                              first, it[0], it[1], it[2]));
                });
            xsNow = loop.getResult(0);
            wsNow = loop.getResult(1);
            accNow = loop.getResult(2);
          }
          if (tailK > 0) {
            Value first = arith::ConstantOp::create(
                b, loc, b.getBoolAttr(fullBlocks == 0));
            accNow = kBlock(b, loc, cIdx(b, loc, fullBlocks), tailK / kChunk,
                            first, xsNow, wsNow, accNow)[2];
          }
          return accNow;
        };
        Value accNow;
        if (grouped) {
          // A grouped GEMM's grid has blocks without a tile (the bound on
          // partial tiles is loose); they skip the K loop, uniformly per
          // block, and store nothing.
          Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                            rows, cIdx(b, loc, 0));
          auto ifOp = scf::IfOp::create(
              b, loc, any,
              [&](OpBuilder &b, Location loc) {
                scf::YieldOp::create(b, loc, kBlocks(b, loc));
              },
              [&](OpBuilder &b, Location loc) {
                scf::YieldOp::create(b, loc, acc);
              });
          accNow = ifOp.getResult(0);
        } else {
          accNow = kBlocks(b, loc);
        }

        // Round each thread's elements into the block's [rows, cols] tile.
        SmallVector<OpFoldResult> tileAt = {m0, n0};
        SmallVector<OpFoldResult> tileSizes = {rows, cols};
        SmallVector<OpFoldResult> unit = indexAttrs(b, {1, 1});
        Value yTile = tensor::ExtractSliceOp::create(b, loc, out, tileAt,
                                                     tileSizes, unit);
        SmallVector<Value> stored = mappedForall(
            b, loc, {kSide, kSide},
            {gpu::MappingId::DimY, gpu::MappingId::DimX},
            /*blocks=*/false, ValueRange{yTile},
            [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
              Value ty = ivs[0], tx = ivs[1];
              // ceil((extent - t) / 16), at most `per`: extent + 15 - t is
              // not negative (extent >= 0, t < 16).
              auto count = [&](Value extent, Value t, int64_t per) -> Value {
                Value v = arith::SubIOp::create(
                    b, loc,
                    arith::AddIOp::create(b, loc, extent,
                                          cIdx(b, loc, kSide - 1)),
                    t);
                v = arith::DivUIOp::create(b, loc, v, cIdx(b, loc, kSide));
                return minIdx(b, loc, v, cIdx(b, loc, per));
              };
              Value myRows = count(rows, ty, perM),
                    myCols = count(cols, tx, kPer);
              // A thread past a short tile's rows or columns has an empty
              // slot, placed at the tile's end so that it stays in bounds.
              Slot at{Value(),
                      {minIdx(b, loc, ty, rows), minIdx(b, loc, tx, cols)},
                      {myRows, myCols},
                      indexAttrs(b, {kSide, kSide})};
              Value mine = extractSlot(
                  b, loc,
                  RankedTensorType::get(
                      {ShapedType::kDynamic, ShapedType::kDynamic}, yElem),
                  outs[0], at);
              auto rowLoop = scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), myRows, cIdx(b, loc, 1),
                  ValueRange{mine},
                  [&](OpBuilder &b, Location loc, Value i, ValueRange it) {
                    auto colLoop = scf::ForOp::create(
                        b, loc, cIdx(b, loc, 0), myCols, cIdx(b, loc, 1),
                        ValueRange{it[0]},
                        [&](OpBuilder &b, Location loc, Value j,
                            ValueRange jt) {
                          Value r = arith::AddIOp::create(
                              b, loc, ty,
                              arith::MulIOp::create(b, loc, i,
                                                    cIdx(b, loc, kSide)));
                          Value c = arith::AddIOp::create(
                              b, loc, tx,
                              arith::MulIOp::create(b, loc, j,
                                                    cIdx(b, loc, kSide)));
                          Value v = tensor::ExtractOp::create(b, loc, accNow,
                                                              ValueRange{r, c});
                          if (!yElem.isF32())
                            v = arith::TruncFOp::create(b, loc, yElem, v);
                          scf::YieldOp::create(
                              b, loc,
                              ValueRange{tensor::InsertOp::create(
                                  b, loc, v, jt[0], ValueRange{i, j})});
                        });
                    scf::YieldOp::create(b, loc, colLoop.getResults());
                  });
              at.part = rowLoop.getResult(0);
              return SmallVector<Slot>{at};
            });
        auto inParallel = scf::InParallelOp::create(b, loc);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(inParallel.getBody());
        tensor::ParallelInsertSliceOp::create(b, loc, stored[0], out, tileAt,
                                              tileSizes, unit);
      });
  // A linear over a static token count reads each operand whole (the
  // tiles re-read them from L2, which is not counted); a grouped GEMM reads
  // the weights of the experts that have rows, which only the offsets say.
  if (linear && xType.hasStaticShape())
    gpu_kernels::setKernelCost(
        forall, {gpu_kernels::operandBytes(forall),
                 gpu_kernels::checkedProduct({2, xType.getDimSize(0), n, k})});
  return forall.getResult(0);
}

struct Dsv3GPUTiledGemm : dsv3::impl::Dsv3GPUTiledGemmBase<Dsv3GPUTiledGemm> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (takes(op, minGroupedRows))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops) {
      rewriter.setInsertionPoint(op);
      rewriter.replaceOp(
          op, buildGemm(rewriter, op->getLoc(), op, sharedMemory, tensorCores));
    }
  }
};

} // namespace
