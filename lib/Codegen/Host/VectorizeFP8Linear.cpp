//===- VectorizeFP8Linear.cpp - vector loops for weight-only FP8 linear ---===//
//
// The generic linalg form of dsv3.linear indexes the block scale with
// floordiv maps, which upstream vectorization does not take, and its scalar
// loops reload the accumulator every K step. The host gets a direct form
// (Passes.td): groups of output rows split over the threads (scf.forall),
// and in a group, register tiles of rows x tokens in which each weight
// vector and each activation vector is loaded once per step; token blocks
// and K chunks keep a prefill's activations in L2, and each chunk of a row
// tile's FP8 weights is widened once into a per-thread f32 panel that the
// token tiles read. Decode-sized work (at most decode_tokens tokens, static
// or dynamic) widens each block of 8 weight rows once into a per-thread
// buffer of f16 bits and takes the tokens' products from it, two tokens at
// a time where there are two. Every tile sums its accumulators' lanes 8 at a
// time (host::sumLanesByRows). The same kernel serves bf16/f32 weights
// (lm_head, the router's logits, split out of dsv3.moe_gate) and, per (row
// block, expert), the FP8 grouped GEMM of the MoE layer.
//
// The widening is exact and cheap on AVX2 + F16C: e4m3's exponent and
// mantissa bits, moved into an f16's, give the same number times 2^-8 (also
// for subnormals), so sign-extend, shift, mask and vcvtph2ps widen 8 codes
// in four instructions, and the 2^8 goes into the block scale. Finite codes
// are exact; the two NaN codes read as +-480 (checkpoints hold none).
//
//===----------------------------------------------------------------------===//
#include "KernelBuilders.h"
#include "StrategyTable.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
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
using host::castElements;
using host::cIdx;
using host::forEachTile;
using host::widenE4M3Scaled;
using host::widenToF32;
using host::yieldSlice;
using host::zerosF32;

namespace {

/// Register tiles, largest first: rows of the weight x tokens. Per K step a
/// tile loads (from the panel, or widening in registers) one weight vector
/// per row and one activation vector per token, and each feeds the other side's
/// accumulators: 2 x 6 tiles do 12 fused multiply-adds for 8 loads, where a
/// single row (the old kernel) did 8 for 9 and was bound by the load ports.
/// Every size up to 6 is a tile, so the tokens left after the 6-tiles (an
/// expert's few tokens in a MoE layer) take one pass over the weight rows, not
/// two or three.
constexpr int64_t kRowTiles[] = {2, 1};
/// A decode tile of one token: eight rows, so eight independent FMA chains
/// per K step. A 2 x 1 tile has two, and with a 4-cycle FMA latency two
/// chains issue one FMA every two cycles where the two FMA pipes could take
/// two per cycle (Zen 3; recent Intel cores alike): a quarter of the peak.
/// Rows do not change any element's additions.
constexpr int64_t kOneTokenRowTiles[] = {8, 4, 2, 1};
constexpr int64_t kTokenTiles[] = {6, 5, 4, 3, 2, 1};
/// Accumulator vectors of one tile: 12 of AVX2's 16 registers, which leaves
/// room for the tile's weight and activation vectors (at width 16, AVX-512's
/// 32 registers hold the same tiles with room to spare).
constexpr int64_t kMaxAccumulators = 12;
/// A linear of one static token (decode; its tiles are kOneTokenRowTiles)
/// widens each block of a tile's rows in two steps: first all kStageCodes-wide
/// pieces of the block into a per-thread buffer of f16 bits (kMaxRowTile rows
/// of one block), then, in the K loop, f16 -> f32 from that buffer next to the
/// FMAs. At one token the widening is most of the work per weight byte, and its
/// two shuffles per 8 codes (the sign extension and the register form of
/// vcvtph2ps) held the one-token kernel at ~7 GB/s per core where the bf16
/// lm_head streams at ~12 (docs/ benchmarks.md, fifth session of 3 December).
/// The memory form of vcvtph2ps needs no shuffle, and 16 codes take one 256-bit
/// sign extension. The products and the order of their additions are those of
/// the direct form, so the bits are too.
constexpr int64_t kMaxRowTile = 8;
/// The per-thread buffers' alignment: a cache line, so that no vector load
/// from them (32 bytes on AVX2, 64 on AVX-512) splits one.
constexpr int64_t kBufferAlignment = 64;
constexpr int64_t kStageCodes = 16;
/// Prefill: each chunk of a row group's FP8 weights (up to rows_per_task rows
/// x k_chunk_blocks blocks) is widened once to f32 into a per-thread panel,
/// and every register tile over the chunk reads its weights from there.
/// Widening in registers repeated the four widening instructions per weight
/// vector for every 6-token tile (11 times at 64 tokens), next to 12 FMAs;
/// reading the panel leaves one load. The token tiles run outside the row
/// tiles: a 6-token tile's activation chunk (12 KiB at 4 blocks) stays in L1
/// while the panel's row pairs stream past it from L2, one weight vector per
/// 6 FMAs. The other way round (a 2-row panel in L1, every token tile's
/// activations from L2 for each row pair) moved one activation vector per
/// 2 FMAs from L2, as many bytes per cycle as Zen 3's L2 gives, and held
/// prefill at ~0.45 of the FMA peak. A panel takes at most kMaxPanelBytes
/// (with L2's activation chunk, 192 KiB by default, well inside a 512 KiB
/// L2), so longer chunks or more rows go in several panels; chunks too long
/// for a panel of two rows widen in registers.
constexpr int64_t kMaxPanelBytes = 64 * 1024;

/// Rows of a panel for a task of `taskRows` rows: all of them where they
/// fit, else as many whole row tiles as do; 0 for no panel.
int64_t panelRowsOf(const host::WeightTiles &tiles, int64_t taskRows) {
  const int64_t rowBytes = tiles.chunkBlocks * kQuantBlock * 4;
  if (rowBytes > kMaxPanelBytes / kRowTiles[0])
    return 0;
  const int64_t fit = kMaxPanelBytes / rowBytes / kRowTiles[0] * kRowTiles[0];
  return std::min(taskRows, fit);
}

/// Cache blocking for prefill-sized M (host::WeightTiles, from the strategy
/// table). At most decodeTokens tokens run over all of K in one pass
/// (decode: the weight streams once, row by row, and the activations fit
/// L2). More tokens go in blocks of tokenBlock, and K in chunks of
/// chunkBlocks quantization blocks, so that a block's activation chunk (by
/// default 96 x 512 f32 = 192 KiB) stays in L2 while the row group's weights
/// pass over it. A block's running sums stay in the f32 output between
/// chunks, so every output element sees the same additions in the same order
/// whatever M, the tiling, the blocking or the thread count (chunked prefill
/// and decode give the bits of one long prefill).

/// The kernel both patterns share (FP8 block-scaled, or bf16/f32 weights
/// without a scale): output elements [m, n] of one weight matrix (a
/// linear's, or expert e's of a stacked [E, N, K] weight), accumulated in
/// f32 into `dest` at [m - rowBase, n - colBase].
struct TileKernel {
  Value x;             // [M, K] f32
  Value weight, scale; // [N, K] / [nb, kb], or [E, N, K] / [E, nb, kb]
  Value expert;        // null for a plain linear
  Value staging;       // memref<kMaxRowTile x kQuantBlock x i16>, or null
  Value weightView;    // read-only memref of `weight` for prefetches, or null
  Value panel;         // memref<panelRowsOf(...) x chunk x f32>, or null
  int64_t k, width;
  host::WeightTiles tiles;
  // One-token register tiles take their weights from `staging` (a linear of
  // one static token; elsewhere the one-token tails of prefill, not measured
  // with it).
  bool stageOneTokenTiles = false;

  SmallVector<Value> withExpert(ValueRange idx) const {
    SmallVector<Value> all;
    if (expert)
      all.push_back(expert);
    all.append(idx.begin(), idx.end());
    return all;
  }

  /// Prefetches block [k0, k0 + kQuantBlock) of the rows one tile below
  /// `rows` (the next tile's, clamped to the last row), one line at a time.
  /// A tile's rows are short streams side by side (q_b_proj's 8 rows of
  /// 1536 bytes share three pages), which the hardware prefetchers follow
  /// poorly: one tile ahead is ~1 us of work, enough to cover DRAM latency.
  void prefetchNextTile(OpBuilder &b, Location loc, ArrayRef<Value> rows,
                        Value k0) const {
    if (!weightView)
      return;
    auto wType = cast<ShapedType>(weight.getType());
    const int64_t rank = wType.getRank(), rowTile = rows.size();
    const int64_t elemBytes = wType.getElementTypeBitWidth() / 8;
    const int64_t lineElems =
        std::max<int64_t>(1, host::kCacheLine / elemBytes);
    for (int64_t at = 0; at < kQuantBlock; at += lineElems) {
      Value j = host::clampToLast(
          b, loc, weightView, rank - 1,
          arith::AddIOp::create(b, loc, k0, cIdx(b, loc, at)));
      for (Value n : rows) {
        Value next = host::clampToLast(
            b, loc, weightView, rank - 2,
            arith::AddIOp::create(b, loc, n, cIdx(b, loc, rowTile)));
        host::prefetchRead(b, loc, weightView, withExpert({next, j}));
      }
    }
  }

  /// Widens quantization block [k0, kEnd) of each of `rows` (at most
  /// kMaxRowTile) into `staging`, kStageCodes codes per sign extension.
  void stage(OpBuilder &b, Location loc, ArrayRef<Value> rows, Value k0,
             Value kEnd) const {
    prefetchNextTile(b, loc, rows, k0);
    auto wElem = cast<ShapedType>(weight.getType()).getElementType();
    Value wPad = arith::ConstantOp::create(b, loc, b.getFloatAttr(wElem, 0.0));
    SmallVector<bool> inBounds = {true};
    scf::ForOp::create(b, loc, k0, kEnd, cIdx(b, loc, kStageCodes),
                       ValueRange{},
                       [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                         Value at = arith::SubIOp::create(b, loc, j, k0);
                         for (auto [r, n] : llvm::enumerate(rows)) {
                           Value codes = vector::TransferReadOp::create(
                               b, loc, VectorType::get({kStageCodes}, wElem),
                               weight, withExpert({n, j}), wPad, inBounds);
                           vector::StoreOp::create(
                               b, loc, host::e4m3ToScaledF16Bits(b, loc, codes),
                               staging, ValueRange{cIdx(b, loc, r), at});
                         }
                         scf::YieldOp::create(b, loc);
                       });
  }

  /// Widens K [k0, kEnd) of weight rows [n0, n0 + count) (count at most
  /// the panel's rows) to f32 into `panel`, row r at row r, column j - k0,
  /// kStageCodes codes at a time, row by row: the values the register tiles
  /// widen (the same bits).
  void pack(OpBuilder &b, Location loc, Value n0, Value count, Value k0,
            Value kEnd) const {
    auto wElem = cast<ShapedType>(weight.getType()).getElementType();
    Value wPad = arith::ConstantOp::create(b, loc, b.getFloatAttr(wElem, 0.0));
    SmallVector<bool> inBounds = {true};
    scf::ForOp::create(
        b, loc, cIdx(b, loc, 0), count, cIdx(b, loc, 1), ValueRange{},
        [&](OpBuilder &b, Location loc, Value r, ValueRange) {
          Value n = arith::AddIOp::create(b, loc, n0, r);
          scf::ForOp::create(
              b, loc, k0, kEnd, cIdx(b, loc, kStageCodes), ValueRange{},
              [&](OpBuilder &b, Location loc, Value j, ValueRange) {
                Value codes = vector::TransferReadOp::create(
                    b, loc, VectorType::get({kStageCodes}, wElem), weight,
                    withExpert({n, j}), wPad, inBounds);
                vector::StoreOp::create(
                    b, loc,
                    host::scaledF16BitsToF32(
                        b, loc, host::e4m3ToScaledF16Bits(b, loc, codes)),
                    panel, ValueRange{r, arith::SubIOp::create(b, loc, j, k0)});
                scf::YieldOp::create(b, loc);
              });
          scf::YieldOp::create(b, loc);
        });
  }

  /// Whether prefill chunks can be packed into `panel` (which exists for
  /// FP8 weights whose chunk fits; see panelRowsOf).
  bool canPack() const {
    auto wElem = cast<ShapedType>(weight.getType()).getElementType();
    return panel && isa<Float8E4M3FNType>(wElem) && k % kStageCodes == 0;
  }

  /// Row r's weights [at, at + width) of the staged block, as f32.
  Value stagedWeights(OpBuilder &b, Location loc, int64_t r, Value at) const {
    Value bits =
        vector::LoadOp::create(b, loc, VectorType::get({width}, b.getI16Type()),
                               staging, ValueRange{cIdx(b, loc, r), at});
    return host::scaledF16BitsToF32(b, loc, bits);
  }

  /// The f32 multiplier of quantization block (nb, kb): the block scale,
  /// times 2^8 for FP8 weights (what the widening left out; exact, a power
  /// of two, and an f32 scale is far from overflow); null without a scale.
  Value blockScale(OpBuilder &b, Location loc, Value nb, Value kb) const {
    if (!scale)
      return Value();
    Type f32 = b.getF32Type();
    Value s = tensor::ExtractOp::create(b, loc, scale, withExpert({nb, kb}));
    if (!s.getType().isF32())
      s = arith::ExtFOp::create(b, loc, f32, s);
    if (isa<Float8E4M3FNType>(
            cast<ShapedType>(weight.getType()).getElementType()))
      s = arith::MulFOp::create(
          b, loc, s,
          arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f)));
    return s;
  }

  /// running + (tree sum of a block's lanes) x scale: what every tiling adds
  /// to an element per quantization block, in block order.
  static Value addBlock(OpBuilder &b, Location loc, Value running, Value lanes,
                        Value scale) {
    // A tree reduction of the lanes: the order of the K sum is not part of
    // the semantics.
    Value sum = host::reduceLanes(b, loc, lanes);
    if (scale)
      sum = arith::MulFOp::create(b, loc, sum, scale);
    return arith::AddFOp::create(b, loc, running, sum);
  }

  /// addBlock for the rows of one token at once: running[r] + (tree sum of
  /// lanes[r]) x scales[r], elementwise the same arithmetic
  /// (host::sumLanesByRows). `scales` is null without a scale.
  static Value addBlocks(OpBuilder &b, Location loc, Value running,
                         ValueRange lanes, Value scales) {
    Value sums = host::sumLanesByRows(b, loc, lanes);
    if (scales)
      sums = arith::MulFOp::create(b, loc, sums, scales);
    return arith::AddFOp::create(b, loc, running, sums);
  }

  /// Whether an FP8 tile of `numRows` rows can take its weights from the
  /// staging buffer.
  bool canStage(int64_t numRows) const {
    auto wElem = cast<ShapedType>(weight.getType()).getElementType();
    return staging && isa<Float8E4M3FNType>(wElem) && numRows <= kMaxRowTile &&
           k % kStageCodes == 0 && width <= kStageCodes &&
           kStageCodes % width == 0;
  }

  /// Rows `rows` (at most kMaxRowTile) x a dynamic number of tokens [m0,
  /// m1), over the quantization blocks [kb0, kb1) of K: an expert's few
  /// tokens in a decode-sized MoE call. Each block of the rows is widened
  /// once into `staging` and the tokens take their products from there, so
  /// the weights are read and widened once whatever the count. Tokens go in
  /// pairs, over at most 4 rows at a time (stagedPass): each f16 -> f32
  /// widening from the buffer then feeds two FMAs, where one token alone is
  /// bound by the widening (one per cycle on Zen 3, against two FMAs). An odd
  /// last token takes all the rows at once, as many independent FMA chains as
  /// the static decode tile. Between blocks a token's running sums live in
  /// `dest`; every element gets the additions of tile(), in the same order.
  Value stagedTokens(OpBuilder &b, Location loc, ArrayRef<Value> rows, Value m0,
                     Value m1, Value kb0, Value kb1, Value dest, Value rowBase,
                     Value colBase) const {
    const int64_t numRows = rows.size();
    // Two tokens x 4 rows: 8 FMA chains, as many accumulators as fit.
    const int64_t pairRows = std::min<int64_t>(numRows, kMaxRowTile / 2);
    Value destCol = arith::SubIOp::create(b, loc, rows.front(), colBase);
    SmallVector<Value> nBlock;
    for (Value n : rows)
      nBlock.push_back(
          arith::DivUIOp::create(b, loc, n, cIdx(b, loc, kQuantBlock)));
    // The tokens [m0, pairEnd) go in pairs.
    Value count = arith::SubIOp::create(b, loc, m1, m0);
    Value pairEnd = arith::AddIOp::create(
        b, loc, m0,
        arith::AndIOp::create(b, loc, count, cIdx(b, loc, ~int64_t(1))));
    return scf::ForOp::create(
               b, loc, kb0, kb1, cIdx(b, loc, 1), ValueRange{dest},
               [&](OpBuilder &b, Location loc, Value ib, ValueRange in) {
                 Value k0 = arith::MulIOp::create(b, loc, ib,
                                                  cIdx(b, loc, kQuantBlock));
                 Value kEnd = arith::MinUIOp::create(
                     b, loc,
                     arith::AddIOp::create(b, loc, k0,
                                           cIdx(b, loc, kQuantBlock)),
                     cIdx(b, loc, k));
                 stage(b, loc, rows, k0, kEnd);
                 // The block's multipliers of rows [r0, r0 + nr), made once
                 // per block.
                 SmallVector<Value> scales;
                 for (Value nb : nBlock)
                   scales.push_back(blockScale(b, loc, nb, ib));
                 auto partScales = [&](int64_t r0, int64_t nr) -> Value {
                   if (!scale || !host::canSumLanesByRows(nr, width))
                     return Value();
                   return vector::FromElementsOp::create(
                       b, loc, VectorType::get({nr}, b.getF32Type()),
                       ArrayRef<Value>(scales).slice(r0, nr));
                 };
                 SmallVector<Value> pairScales;
                 for (int64_t r0 = 0; r0 < numRows; r0 += pairRows)
                   pairScales.push_back(
                       partScales(r0, std::min(pairRows, numRows - r0)));
                 Value allScales = partScales(0, numRows);
                 auto pairs = scf::ForOp::create(
                     b, loc, m0, pairEnd, cIdx(b, loc, 2), ValueRange{in[0]},
                     [&](OpBuilder &b, Location loc, Value m, ValueRange in) {
                       Value tokens[] = {m, arith::AddIOp::create(
                                                b, loc, m, cIdx(b, loc, 1))};
                       Value d = in[0];
                       for (int64_t r0 = 0, i = 0; r0 < numRows;
                            r0 += pairRows, ++i)
                         d = stagedPass(b, loc, tokens, r0,
                                        std::min(pairRows, numRows - r0), k0,
                                        kEnd, scales, pairScales[i], d, rowBase,
                                        destCol);
                       scf::YieldOp::create(b, loc, d);
                     });
                 auto last = scf::ForOp::create(
                     b, loc, pairEnd, m1, cIdx(b, loc, 1),
                     ValueRange{pairs.getResult(0)},
                     [&](OpBuilder &b, Location loc, Value m, ValueRange in) {
                       scf::YieldOp::create(
                           b, loc,
                           stagedPass(b, loc, m, 0, numRows, k0, kEnd, scales,
                                      allScales, in[0], rowBase, destCol));
                     });
                 scf::YieldOp::create(b, loc, last.getResult(0));
               })
        .getResult(0);
  }

  /// Staged rows [r0, r0 + nr) x `tokens` over block [k0, kEnd): nr x
  /// tokens FMA chains, then each token's sums of the block added into its
  /// running sums in `dest` (columns destCol + r0...), in one vector where
  /// host::sumLanesByRows takes the rows (`scaleVec` their multipliers),
  /// else row by row with `scales`.
  Value stagedPass(OpBuilder &b, Location loc, ArrayRef<Value> tokens,
                   int64_t r0, int64_t nr, Value k0, Value kEnd,
                   ArrayRef<Value> scales, Value scaleVec, Value dest,
                   Value rowBase, Value destCol) const {
    Type f32 = b.getF32Type();
    auto vecF32 = VectorType::get({width}, f32);
    auto rowVecType = VectorType::get({nr}, f32);
    const int64_t numTokens = tokens.size();
    Value zeroVec = arith::ConstantOp::create(
        b, loc, vecF32, DenseElementsAttr::get(vecF32, APFloat(0.0f)));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    SmallVector<bool> inBounds = {true};
    // Accumulator t * nr + r is token t's row r0 + r.
    SmallVector<Value> zeroVecs(nr * numTokens, zeroVec);
    auto inner = scf::ForOp::create(
        b, loc, k0, kEnd, cIdx(b, loc, width), zeroVecs,
        [&](OpBuilder &b, Location loc, Value ik, ValueRange vacc) {
          Value at = arith::SubIOp::create(b, loc, ik, k0);
          SmallVector<Value> xv;
          for (Value m : tokens)
            xv.push_back(vector::TransferReadOp::create(
                b, loc, vecF32, x, ValueRange{m, ik}, zero, inBounds));
          SmallVector<Value> next(nr * numTokens);
          for (int64_t r = 0; r < nr; ++r) {
            Value w = stagedWeights(b, loc, r0 + r, at);
            for (int64_t t = 0; t < numTokens; ++t)
              next[t * nr + r] =
                  vector::FMAOp::create(b, loc, xv[t], w, vacc[t * nr + r]);
          }
          scf::YieldOp::create(b, loc, next);
        });
    Value col = arith::AddIOp::create(b, loc, destCol, cIdx(b, loc, r0));
    for (auto [t, m] : llvm::enumerate(tokens)) {
      Value destRow = arith::SubIOp::create(b, loc, m, rowBase);
      Value sums = vector::TransferReadOp::create(
          b, loc, rowVecType, dest, ValueRange{destRow, col}, zero, inBounds);
      ValueRange lanes = inner.getResults().slice(t * nr, nr);
      Value v;
      if (host::canSumLanesByRows(nr, width)) {
        v = addBlocks(b, loc, sums, lanes, scaleVec);
      } else {
        SmallVector<Value> updated;
        for (int64_t r = 0; r < nr; ++r)
          updated.push_back(addBlock(b, loc,
                                     vector::ExtractOp::create(b, loc, sums, r),
                                     lanes[r], scales[r0 + r]));
        v = vector::FromElementsOp::create(b, loc, rowVecType, updated);
      }
      dest = vector::TransferWriteOp::create(b, loc, v, dest,
                                             ValueRange{destRow, col}, inBounds)
                 .getResult();
    }
    return dest;
  }

  /// One register tile: rows `rows` x tokens [m0, m0 + tokens), over the
  /// quantization blocks [kb0, kb1) of K. Each element's running sum is read
  /// from `dest` and written back; a block adds (its lanes' tree sum) x
  /// (its scale), the same arithmetic for every tiling.
  /// `panelBase`, when set, is the K index of column 0 of `panel`, whose
  /// rows from `panelRow0` hold the rows' weights of the blocks as f32
  /// (pack).
  Value tile(OpBuilder &b, Location loc, ArrayRef<Value> rows, Value m0,
             int64_t tokens, Value kb0, Value kb1, Value dest, Value rowBase,
             Value colBase, Value panelBase = Value(),
             Value panelRow0 = Value()) const {
    Type f32 = b.getF32Type();
    auto vecF32 = VectorType::get({width}, f32);
    auto wElem = cast<ShapedType>(weight.getType()).getElementType();
    const bool fp8 = isa<Float8E4M3FNType>(wElem);
    const int64_t numRows = rows.size(), count = numRows * tokens;
    const bool staged = stageOneTokenTiles && tokens == 1 && canStage(numRows);
    Value zeroVec = arith::ConstantOp::create(
        b, loc, vecF32, DenseElementsAttr::get(vecF32, APFloat(0.0f)));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    Value wPad = arith::ConstantOp::create(b, loc, b.getFloatAttr(wElem, 0.0));
    SmallVector<bool> inBounds = {true};
    SmallVector<Value> tokenIdx, destRow, destCol, nBlock;
    for (int64_t t = 0; t < tokens; ++t) {
      tokenIdx.push_back(arith::AddIOp::create(b, loc, m0, cIdx(b, loc, t)));
      destRow.push_back(arith::SubIOp::create(b, loc, tokenIdx[t], rowBase));
    }
    for (Value n : rows) {
      destCol.push_back(arith::SubIOp::create(b, loc, n, colBase));
      nBlock.push_back(
          arith::DivUIOp::create(b, loc, n, cIdx(b, loc, kQuantBlock)));
    }
    // Accumulator r * tokens + t is element [token t, row r]. A token's
    // running sums are contiguous in `dest`: one vector read and one write
    // per token, not one tensor op per element: one-shot bufferization's
    // time grows with the tensor ops on `dest` (a tiny model with MTP spent
    // 48 s there with per-element ops, 16 s with these).
    auto rowVecType = VectorType::get({numRows}, f32);
    SmallVector<Value> sums;
    for (int64_t t = 0; t < tokens; ++t)
      sums.push_back(vector::TransferReadOp::create(
          b, loc, rowVecType, dest, ValueRange{destRow[t], destCol[0]}, zero,
          inBounds));
    // The running sums of accumulators [first, first + size) of a group are
    // carried as one vector and take each block's lane sums in one go
    // (host::sumLanesByRows: groups of 8, then 4); what is left carries one
    // scalar per element. A one-token tile of 4 or 8 rows is one group, its
    // row vector as read.
    struct Group {
      int64_t first, size;
    };
    SmallVector<Group> groups;
    for (int64_t i = 0; i < count;) {
      int64_t size = count - i >= 8 && host::canSumLanesByRows(8, width)   ? 8
                     : count - i >= 4 && host::canSumLanesByRows(4, width) ? 4
                                                                           : 1;
      groups.push_back({i, size});
      i += size;
    }
    const bool byRows = tokens == 1 && groups.size() == 1 && groups[0].size > 1;
    auto element = [&](int64_t i) {
      return vector::ExtractOp::create(b, loc, sums[i % tokens], i / tokens)
          .getResult();
    };
    SmallVector<Value> init;
    for (const Group &g : groups) {
      if (byRows) {
        init.push_back(sums[0]);
      } else if (g.size == 1) {
        init.push_back(element(g.first));
      } else {
        SmallVector<Value> e;
        for (int64_t i = g.first; i < g.first + g.size; ++i)
          e.push_back(element(i));
        init.push_back(vector::FromElementsOp::create(
            b, loc, VectorType::get({g.size}, f32), e));
      }
    }
    auto blocks = scf::ForOp::create(
        b, loc, kb0, kb1, cIdx(b, loc, 1), init,
        [&](OpBuilder &b, Location loc, Value ib, ValueRange acc) {
          Value k0 =
              arith::MulIOp::create(b, loc, ib, cIdx(b, loc, kQuantBlock));
          Value kEnd = arith::MinUIOp::create(
              b, loc,
              arith::AddIOp::create(b, loc, k0, cIdx(b, loc, kQuantBlock)),
              cIdx(b, loc, k));
          if (staged)
            stage(b, loc, rows, k0, kEnd);
          else if (tokens == 1 && !panelBase)
            prefetchNextTile(b, loc, rows, k0); // as stage() does
          SmallVector<Value> zeroVecs(count, zeroVec);
          auto inner = scf::ForOp::create(
              b, loc, k0, kEnd, cIdx(b, loc, width), zeroVecs,
              [&](OpBuilder &b, Location loc, Value ik, ValueRange vacc) {
                SmallVector<Value> w;
                for (auto [r, n] : llvm::enumerate(rows)) {
                  if (panelBase) {
                    Value at = arith::SubIOp::create(b, loc, ik, panelBase);
                    Value pr = arith::AddIOp::create(b, loc, panelRow0,
                                                     cIdx(b, loc, r));
                    w.push_back(vector::LoadOp::create(b, loc, vecF32, panel,
                                                       ValueRange{pr, at}));
                    continue;
                  }
                  if (staged) {
                    Value at = arith::SubIOp::create(b, loc, ik, k0);
                    w.push_back(stagedWeights(b, loc, r, at));
                    continue;
                  }
                  Value codes = vector::TransferReadOp::create(
                      b, loc, VectorType::get({width}, wElem), weight,
                      withExpert({n, ik}), wPad, inBounds);
                  if (fp8)
                    codes = widenE4M3Scaled(b, loc, codes);
                  else if (wElem != f32)
                    codes = arith::ExtFOp::create(b, loc, vecF32, codes);
                  w.push_back(codes);
                }
                SmallVector<Value> next(count);
                for (int64_t t = 0; t < tokens; ++t) {
                  Value xv = vector::TransferReadOp::create(
                      b, loc, vecF32, x, ValueRange{tokenIdx[t], ik}, zero,
                      inBounds);
                  for (int64_t r = 0; r < numRows; ++r)
                    next[r * tokens + t] = vector::FMAOp::create(
                        b, loc, xv, w[r], vacc[r * tokens + t]);
                }
                scf::YieldOp::create(b, loc, next);
              });
          // Accumulator i is row i / tokens.
          SmallVector<Value> rowScales;
          for (Value nb : nBlock)
            rowScales.push_back(blockScale(b, loc, nb, ib));
          SmallVector<Value> next;
          for (auto [g, running] : llvm::zip(groups, acc)) {
            if (g.size == 1) {
              next.push_back(addBlock(b, loc, running, inner.getResult(g.first),
                                      rowScales[g.first / tokens]));
              continue;
            }
            Value scales;
            if (scale) {
              SmallVector<Value> e;
              for (int64_t i = g.first; i < g.first + g.size; ++i)
                e.push_back(rowScales[i / tokens]);
              scales = vector::FromElementsOp::create(
                  b, loc, VectorType::get({g.size}, f32), e);
            }
            next.push_back(addBlocks(b, loc, running,
                                     inner.getResults().slice(g.first, g.size),
                                     scales));
          }
          scf::YieldOp::create(b, loc, next);
        });
    // Element i of the tile, from its group's result.
    auto result = [&](int64_t i) -> Value {
      for (auto [g, v] : llvm::zip(groups, blocks.getResults()))
        if (i >= g.first && i < g.first + g.size)
          return g.size == 1 ? v
                             : vector::ExtractOp::create(b, loc, v, i - g.first)
                                   .getResult();
      llvm_unreachable("every accumulator is in a group");
    };
    for (int64_t t = 0; t < tokens; ++t) {
      Value v;
      if (byRows) {
        v = blocks.getResult(0);
      } else {
        SmallVector<Value> row;
        for (int64_t r = 0; r < numRows; ++r)
          row.push_back(result(r * tokens + t));
        v = vector::FromElementsOp::create(b, loc, rowVecType, row);
      }
      dest = vector::TransferWriteOp::create(
                 b, loc, v, dest, ValueRange{destRow[t], destCol[0]}, inBounds)
                 .getResult();
    }
    return dest;
  }

  /// Rows [nBegin, nBegin + nCount) x tokens [mBegin, mEnd), blocked for
  /// the caches (see host::WeightTiles), in register tiles.
  Value group(OpBuilder &b, Location loc, Value nBegin, OpFoldResult nCount,
              OpFoldResult mBegin, OpFoldResult mEnd, Value dest, Value rowBase,
              Value colBase) const {
    const int64_t numBlocks = llvm::divideCeil(k, kQuantBlock);
    std::optional<int64_t> mLo = getConstantIntValue(mBegin),
                           mHi = getConstantIntValue(mEnd);
    const bool staticDecode = mLo && mHi && *mHi - *mLo <= tiles.decodeTokens;
    // The weight rows nBegin + i0 + [0, numRows) of a row tile.
    auto tileRows = [&](OpBuilder &b, Location loc, Value i0, int64_t numRows) {
      Value n0 = arith::AddIOp::create(b, loc, nBegin, i0);
      SmallVector<Value> rows;
      for (int64_t r = 0; r < numRows; ++r)
        rows.push_back(arith::AddIOp::create(b, loc, n0, cIdx(b, loc, r)));
      return rows;
    };
    // One token block over the chunks of K.
    auto tokenBlock = [&](OpBuilder &b, Location loc, OpFoldResult mb,
                          OpFoldResult mStop, Value dest) -> Value {
      // Token tiles for row tiles of up to kRowTiles[0] rows.
      SmallVector<int64_t> tokenTiles;
      for (int64_t t : kTokenTiles)
        if (kRowTiles[0] * t <= kMaxAccumulators || t == 1)
          tokenTiles.push_back(t);
      // Row tiles over token tiles, the weights widened in registers.
      auto overRows = [&](OpBuilder &b, Location loc, Value kb0, Value kb1,
                          Value dest, ArrayRef<int64_t> rowTiles = kRowTiles) {
        return forEachTile(
            b, loc, b.getIndexAttr(0), nCount, rowTiles, dest,
            [&](OpBuilder &b, Location loc, Value i0, int64_t numRows,
                Value dest) {
              SmallVector<Value> rows = tileRows(b, loc, i0, numRows);
              return forEachTile(b, loc, mb, mStop, tokenTiles, dest,
                                 [&](OpBuilder &b, Location loc, Value m0,
                                     int64_t tokens, Value dest) {
                                   return tile(b, loc, rows, m0, tokens, kb0,
                                               kb1, dest, rowBase, colBase);
                                 });
            });
      };
      // A prefill chunk: rows [p0, p0 + pCount) of the group widened into
      // the panel, then token tiles over row tiles (see kMaxPanelBytes).
      auto overPanel = [&](OpBuilder &b, Location loc, Value kb0, Value kb1,
                           Value p0, OpFoldResult pCount, Value dest) {
        Value q = cIdx(b, loc, kQuantBlock);
        Value k0 = arith::MulIOp::create(b, loc, kb0, q);
        pack(b, loc, arith::AddIOp::create(b, loc, nBegin, p0),
             getValueOrCreateConstantIndexOp(b, loc, pCount), k0,
             arith::MinUIOp::create(b, loc,
                                    arith::MulIOp::create(b, loc, kb1, q),
                                    cIdx(b, loc, k)));
        return forEachTile(
            b, loc, mb, mStop, tokenTiles, dest,
            [&](OpBuilder &b, Location loc, Value m0, int64_t tokens,
                Value dest) {
              return forEachTile(
                  b, loc, b.getIndexAttr(0), pCount, kRowTiles, dest,
                  [&](OpBuilder &b, Location loc, Value i0, int64_t numRows,
                      Value dest) {
                    SmallVector<Value> rows = tileRows(
                        b, loc, arith::AddIOp::create(b, loc, p0, i0), numRows);
                    return tile(b, loc, rows, m0, tokens, kb0, kb1, dest,
                                rowBase, colBase, k0, i0);
                  });
            });
      };
      // A prefill chunk over all rows of the group, in panels where the
      // weights are FP8.
      auto chunk = [&](OpBuilder &b, Location loc, Value kb0, Value kb1,
                       Value dest) -> Value {
        if (!canPack())
          return overRows(b, loc, kb0, kb1, dest);
        const int64_t panelRows =
            cast<MemRefType>(panel.getType()).getDimSize(0);
        std::optional<int64_t> rowCount = getConstantIntValue(nCount);
        if (rowCount && *rowCount <= panelRows)
          return overPanel(b, loc, kb0, kb1, cIdx(b, loc, 0), nCount, dest);
        Value nEnd = getValueOrCreateConstantIndexOp(b, loc, nCount);
        return scf::ForOp::create(
                   b, loc, cIdx(b, loc, 0), nEnd, cIdx(b, loc, panelRows),
                   ValueRange{dest},
                   [&](OpBuilder &b, Location loc, Value p0, ValueRange in) {
                     Value pCount = arith::MinUIOp::create(
                         b, loc, cIdx(b, loc, panelRows),
                         arith::SubIOp::create(b, loc, nEnd, p0));
                     scf::YieldOp::create(
                         b, loc,
                         overPanel(b, loc, kb0, kb1, p0, pCount, in[0]));
                   })
            .getResult(0);
      };
      SmallVector<int64_t> oneTokenRows;
      for (int64_t r : kOneTokenRowTiles)
        if (r <= kMaxAccumulators || r == 1)
          oneTokenRows.push_back(r);
      // FP8 with a staging buffer: tiles of up to kMaxRowTile rows over
      // however many tokens there are (see stagedTokens).
      auto decodeRows = [&](OpBuilder &b, Location loc) -> Value {
        if (!canStage(kMaxRowTile))
          return overRows(b, loc, cIdx(b, loc, 0), cIdx(b, loc, numBlocks),
                          dest);
        Value m0 = getValueOrCreateConstantIndexOp(b, loc, mb);
        Value m1 = getValueOrCreateConstantIndexOp(b, loc, mStop);
        return forEachTile(
            b, loc, b.getIndexAttr(0), nCount, oneTokenRows, dest,
            [&](OpBuilder &b, Location loc, Value i0, int64_t numRows,
                Value dest) {
              SmallVector<Value> rows = tileRows(b, loc, i0, numRows);
              return stagedTokens(b, loc, rows, m0, m1, cIdx(b, loc, 0),
                                  cIdx(b, loc, numBlocks), dest, rowBase,
                                  colBase);
            });
      };
      // More tokens: K in chunks of chunkBlocks quantization blocks.
      auto chunked = [&](OpBuilder &b, Location loc) -> Value {
        return scf::ForOp::create(
                   b, loc, cIdx(b, loc, 0), cIdx(b, loc, numBlocks),
                   cIdx(b, loc, tiles.chunkBlocks), ValueRange{dest},
                   [&](OpBuilder &b, Location loc, Value kb0, ValueRange in) {
                     Value kb1 = arith::MinUIOp::create(
                         b, loc,
                         arith::AddIOp::create(b, loc, kb0,
                                               cIdx(b, loc, tiles.chunkBlocks)),
                         cIdx(b, loc, numBlocks));
                     scf::YieldOp::create(b, loc,
                                          chunk(b, loc, kb0, kb1, in[0]));
                   })
            .getResult(0);
      };
      // A static count: one token takes the one-token tiles, more up to
      // decode_tokens the staged tiles (an MTP verify step, a short prompt),
      // more still the chunks.
      if (staticDecode) {
        if (*mHi - *mLo == 1)
          return overRows(b, loc, cIdx(b, loc, 0), cIdx(b, loc, numBlocks),
                          dest, oneTokenRows);
        return decodeRows(b, loc);
      }
      if (getConstantIntValue(mb) && getConstantIntValue(mStop))
        return chunked(b, loc);
      // Decode-sized blocks still take K in one pass. Two branches rather
      // than a select of the chunk size: with constant block bounds LLVM
      // unrolls the K loops as in static decode (a select-sized chunk left
      // the grouped GEMM's loops rolled and 1.65x slower at T = 1).
      Value count = arith::SubIOp::create(
          b, loc, getValueOrCreateConstantIndexOp(b, loc, mStop),
          getValueOrCreateConstantIndexOp(b, loc, mb));
      Value small =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, count,
                                cIdx(b, loc, tiles.decodeTokens));
      return scf::IfOp::create(
                 b, loc, small,
                 [&](OpBuilder &b, Location loc) {
                   scf::YieldOp::create(b, loc, decodeRows(b, loc));
                 },
                 [&](OpBuilder &b, Location loc) {
                   scf::YieldOp::create(b, loc, chunked(b, loc));
                 })
          .getResult(0);
    };
    if (mLo && mHi && *mHi - *mLo <= tiles.tokenBlock)
      return tokenBlock(b, loc, mBegin, mEnd, dest);
    Value endV = getValueOrCreateConstantIndexOp(b, loc, mEnd);
    return scf::ForOp::create(
               b, loc, getValueOrCreateConstantIndexOp(b, loc, mBegin), endV,
               cIdx(b, loc, tiles.tokenBlock), ValueRange{dest},
               [&](OpBuilder &b, Location loc, Value mb, ValueRange in) {
                 Value mStop = arith::MinUIOp::create(
                     b, loc,
                     arith::AddIOp::create(b, loc, mb,
                                           cIdx(b, loc, tiles.tokenBlock)),
                     endV);
                 scf::YieldOp::create(b, loc,
                                      tokenBlock(b, loc, mb, mStop, in[0]));
               })
        .getResult(0);
  }
};

/// The decode tiles' buffer of widened f16 bits (see kMaxRowTile), for FP8
/// weights: an alloca at the top of a forall iteration, which
/// dsv3-host-hoist-team-allocas makes one buffer per thread of the team.
/// Linears of one static token use it, and decode-sized dynamic token counts
/// (an expert's tokens, a short dynamic prefill) through stagedTokens;
/// prefill's one-token tails do not (not measured).
Value stagingBuffer(OpBuilder &b, Location loc, Type weightElem) {
  if (!isa<Float8E4M3FNType>(weightElem))
    return Value();
  return memref::AllocaOp::create(
      b, loc, MemRefType::get({kMaxRowTile, kQuantBlock}, b.getI16Type()),
      b.getI64IntegerAttr(kBufferAlignment));
}

/// The prefill tiles' f32 panel (see kMaxPanelBytes), for FP8 weights whose
/// chunk fits: an alloca at the top of a forall iteration, one per thread
/// after dsv3-host-hoist-team-allocas.
Value panelBuffer(OpBuilder &b, Location loc, Type weightElem,
                  const host::WeightTiles &tiles, int64_t taskRows) {
  const int64_t rows = panelRowsOf(tiles, taskRows);
  if (!isa<Float8E4M3FNType>(weightElem) || rows == 0)
    return Value();
  return memref::AllocaOp::create(
      b, loc,
      MemRefType::get({rows, tiles.chunkBlocks * kQuantBlock}, b.getF32Type()),
      b.getI64IntegerAttr(kBufferAlignment));
}

/// A kernel's lanes for a K: `width`, or 8 (AVX2's, whole registers on any
/// target the pass serves) where K is not a multiple of `width`; none where
/// K is not a multiple of either.
std::optional<int64_t> widthFor(int64_t k, int64_t width) {
  for (int64_t w : {width, std::min<int64_t>(width, 8)})
    if (k % w == 0)
      return w;
  return std::nullopt;
}

struct VectorizeFP8Linear : OpRewritePattern<LinearOp> {
  VectorizeFP8Linear(MLIRContext *ctx, int64_t width)
      : OpRewritePattern(ctx), width(width) {}

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    auto yType = op.getResult().getType();
    // The strategy table's weight_tiles condition (weight-only FP8 with its
    // block scale, or a bf16/f32 weight) holds for any op that names it.
    DictionaryAttr strategy = host::strategyOf(op);
    if (host::kernelOf(strategy) != host::kWeightTiles)
      return rewriter.notifyMatchFailure(op, "strategy is not weight_tiles");
    int64_t k = xType.getDimSize(1), n = wType.getDimSize(0);
    std::optional<int64_t> width = widthFor(k, this->width);
    if (!width)
      return rewriter.notifyMatchFailure(op, "K not a multiple of the width");
    host::WeightTiles tiles = host::weightTilesOf(op, strategy);

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    OpFoldResult mSize = tensor::getMixedSize(b, loc, op.getInput(), 0);
    TileKernel kernel{widenToF32(b, loc, op.getInput()),
                      op.getWeight(),
                      op.getWeightScaleInv(),
                      /*expert=*/Value(),
                      /*staging=*/Value(),
                      /*weightView=*/Value(),
                      /*panel=*/Value(),
                      k,
                      *width,
                      tiles};

    // Row groups in parallel, each writing its own columns.
    const int64_t group = std::min(n, tiles.rowsPerTask);
    Value init = zerosF32(b, loc, {mSize, b.getIndexAttr(n)});
    auto rows = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{b.getIndexAttr(llvm::divideCeil(n, group))},
        ValueRange{init}, std::nullopt,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value ig = args[0], out = args[1];
          // A decode-sized count, static or dynamic, takes staged tiles: the
          // one-token tiles for one static token, else stagedTokens.
          // Decode-sized calls also prefetch the next row tile's weights.
          TileKernel task = kernel;
          std::optional<int64_t> m = getConstantIntValue(mSize);
          if (!m || *m <= tiles.decodeTokens) {
            task.staging = stagingBuffer(b, loc, wType.getElementType());
            task.weightView = host::prefetchView(b, loc, op.getWeight());
          }
          task.stageOneTokenTiles = m == 1;
          // Counts above decode_tokens (static, or a dynamic count) take
          // the prefill's chunks.
          if (!m || *m > tiles.decodeTokens)
            task.panel =
                panelBuffer(b, loc, wType.getElementType(), tiles, group);
          Value n0 = arith::MulIOp::create(b, loc, ig, cIdx(b, loc, group));
          OpFoldResult nSize = b.getIndexAttr(group);
          if (n % group != 0)
            nSize = arith::MinUIOp::create(
                        b, loc, cIdx(b, loc, group),
                        arith::SubIOp::create(b, loc, cIdx(b, loc, n), n0))
                        .getResult();
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
          SmallVector<OpFoldResult> sizes = {mSize, nSize};
          SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
          Value part = tensor::ExtractSliceOp::create(b, loc, out, offsets,
                                                      sizes, strides);
          part = task.group(b, loc, n0, nSize, b.getIndexAttr(0), mSize, part,
                            cIdx(b, loc, 0), n0);
          yieldSlice(b, loc, part, out, offsets, sizes);
        });
    rewriter.replaceOp(
        op, castElements(b, loc, rows.getResult(0), yType.getElementType()));
    return success();
  }

  int64_t width;
};

/// The router's logits u = f32(x) . f32(W)^T are what dsv3.linear of the
/// unscaled gate weight computes (dsv3.moe_gate's ODS), and the definition
/// runs them as a scalar contraction that stores its sum at every step
/// (6.8 % of a 64-token V3 MoE layer, 256 x 7168 multiply-adds per token).
/// A gate whose strategy is weight_tiles becomes that linear, with the
/// gate's strategy (VectorizeFP8Linear takes it next), and dsv3.moe_gate on
/// the logits, whose selection keeps its definition.
struct SplitRouterLogits : OpRewritePattern<MoEGateOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MoEGateOp op,
                                PatternRewriter &rewriter) const override {
    DictionaryAttr strategy = host::strategyOf(op);
    if (host::kernelOf(strategy) != host::kWeightTiles || !op.getWeight())
      return rewriter.notifyMatchFailure(op, "strategy is not weight_tiles");
    Location loc = op.getLoc();
    Location linearLoc = host::routerLogitsLoc(loc);
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    auto logits = LinearOp::create(
        rewriter, linearLoc,
        RankedTensorType::get(
            {op.getInput().getType().getDimSize(0), wType.getDimSize(0)},
            rewriter.getF32Type()),
        op.getInput(), op.getWeight(), Value());
    logits->setAttr(host::kStrategyAttr, strategy);
    auto gate = MoEGateOp::create(
        rewriter, loc, op.getWeights().getType(), op.getIds().getType(), logits,
        Value(), op.getEScoreCorrectionBias(), op.getScoringFunc(),
        op.getTopkMethod(), op.getTopK(), op.getNGroup(), op.getTopkGroup(),
        op.getNormTopkProb(), op.getRoutedScalingFactor());
    rewriter.replaceOp(op, gate.getResults());
    return success();
  }
};

struct VectorizeFP8GroupedMatmul : OpRewritePattern<GroupedMatmulOp> {
  VectorizeFP8GroupedMatmul(MLIRContext *ctx, int64_t width)
      : OpRewritePattern(ctx), width(width) {}

  LogicalResult matchAndRewrite(GroupedMatmulOp op,
                                PatternRewriter &rewriter) const override {
    auto xType = op.getInput().getType();
    auto wType = op.getWeight().getType();
    auto yType = op.getResult().getType();
    // The table's condition holds for any op whose strategy names
    // weight_tiles: block-scaled FP8 experts whose offsets come from
    // dsv3.expert_dispatch (so segment e is expert e's rows).
    DictionaryAttr strategy = host::strategyOf(op);
    if (host::kernelOf(strategy) != host::kWeightTiles)
      return rewriter.notifyMatchFailure(op, "strategy is not weight_tiles");
    int64_t k = xType.getDimSize(1), e = wType.getDimSize(0),
            n = wType.getDimSize(1);
    std::optional<int64_t> width = widthFor(k, this->width);
    if (!width)
      return rewriter.notifyMatchFailure(op, "K not a multiple of the width");
    // Each (row block, expert) iteration reads rowsPerTask contiguous rows of
    // the expert.
    host::WeightTiles tiles = host::weightTilesOf(op, strategy);
    const int64_t rowBlock = tiles.rowsPerTask;

    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    OpFoldResult rSize = tensor::getMixedSize(b, loc, op.getInput(), 0);
    Value rEnd = getValueOrCreateConstantIndexOp(b, loc, rSize);
    Value x = widenToF32(b, loc, op.getInput());
    Type outElem = yType.getElementType();
    // Rows past offsets[E] (the unused tail) stay 0.
    Value init = zerosF32(b, loc, {rSize, b.getIndexAttr(n)});
    int64_t blocks = llvm::divideCeil(n, rowBlock);
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
          Value n0 = arith::MulIOp::create(b, loc, ib, cIdx(rowBlock));
          OpFoldResult nSize = b.getIndexAttr(rowBlock);
          Value nEnd = cIdx(n);
          if (n % rowBlock != 0) {
            nSize =
                arith::MinUIOp::create(b, loc, cIdx(rowBlock),
                                       arith::SubIOp::create(b, loc, nEnd, n0))
                    .getResult();
          }
          Value count = arith::SubIOp::create(b, loc, hi, lo);
          SmallVector<OpFoldResult> offsets = {lo, n0};
          SmallVector<OpFoldResult> sizes = {count, nSize};
          SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
          Value part = tensor::ExtractSliceOp::create(b, loc, out, offsets,
                                                      sizes, strides);
          TileKernel kernel{x,
                            op.getWeight(),
                            op.getWeightScaleInv(),
                            ie,
                            stagingBuffer(b, loc, wType.getElementType()),
                            host::prefetchView(b, loc, op.getWeight()),
                            panelBuffer(b, loc, wType.getElementType(), tiles,
                                        std::min(n, rowBlock)),
                            k,
                            *width,
                            tiles};
          part = kernel.group(b, loc, n0, nSize, lo, hi, part, lo, n0);
          yieldSlice(b, loc, part, out, offsets, sizes);
        });
    rewriter.replaceOp(op, castElements(b, loc, grid.getResult(0), outElem));
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
    if (failed(host::verifyStrategies(getOperation())))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    patterns.add<VectorizeFP8Linear, VectorizeFP8GroupedMatmul>(&getContext(),
                                                                vectorWidth);
    patterns.add<SplitRouterLogits>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
