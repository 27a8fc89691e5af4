//===- Dsv3AttentionTiling.cpp - tiling dsv3.latent_attention -------------===//
//
// TilingInterface and PartialReductionOpInterface of dsv3.latent_attention.
// The op keeps one definition (lib/Conversion/Dsv3ToLinalg); split-KV
// decoding is not a second lowering but what upstream's tiling driver
// (scf::tileUsingSCF) makes of this interface when asked to tile the key
// dimension as a partial reduction with the outer-parallel strategy:
//
//   scf.forall over key tiles [t0, t0 + n):
//     o_n, lse_n = dsv3.latent_attention(..., c_kv[:, t0:t0+n],
//                                        start_pos - t0, kv_len - t0)
//   merge: a tree of dsv3.attention_merge over the N partials
//
// Shifting start_pos and kv_len by t0 keeps the causal and length masks of
// the tile equal to those of the same keys in the whole op; both are first
// clamped to the range where a larger or smaller value sees the same keys, so
// the shift cannot wrap.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The iteration domain is (b, i, h, t): batch, query, head, key.
constexpr unsigned kKeyDim = 3;

/// The operands of one tile of the iteration domain.
struct TileOperands {
  Value qNope, qPe, cKv, kPe, startPos, kvLen;
  SmallVector<Operation *> slices;
};

Value slice(OpBuilder &b, Location loc, Value v, ArrayRef<OpFoldResult> offsets,
            ArrayRef<OpFoldResult> sizes, TileOperands &tile) {
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  auto op = tensor::ExtractSliceOp::create(b, loc, v, offsets, sizes, strides);
  tile.slices.push_back(op);
  return op.getResult();
}

/// clamp(x, lo, hi) + shift for each element of a [B] index tensor (i32 or
/// i64), computed in `index`. For the results to fit the element type, hi
/// and |lo| + |shift| are at most a cache length or query count.
Value clampAndShift(OpBuilder &b, Location loc, Value positions, Value lo,
                    Value hi, Value shift) {
  auto type = cast<RankedTensorType>(positions.getType());
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
  Value init =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{positions}, ValueRange{init},
             ArrayRef<AffineMap>{id, id},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value x = arith::IndexCastOp::create(nb, l, nb.getIndexType(),
                                                    args[0]);
               x = arith::MaxSIOp::create(nb, l, x, lo);
               x = arith::MinSIOp::create(nb, l, x, hi);
               x = arith::AddIOp::create(nb, l, x, shift);
               linalg::YieldOp::create(nb, l,
                                       ValueRange{arith::IndexCastOp::create(
                                           nb, l, type.getElementType(), x)});
             })
      .getResult(0);
}

/// Slices the operands for the tile at `offsets`/`sizes` of (b, i, h, t).
/// Fails for a tile whose size is not a constant in a dimension the
/// verifier requires static (everything but the query count).
FailureOr<TileOperands> sliceOperands(OpBuilder &b, Location loc,
                                      LatentAttentionOp op,
                                      ArrayRef<OpFoldResult> offsets,
                                      ArrayRef<OpFoldResult> sizes) {
  for (unsigned d : {0u, 2u, kKeyDim})
    if (!getConstantIntValue(sizes[d]))
      return failure();
  TileOperands tile;
  auto qType = op.getQNope().getType();
  int64_t C = qType.getDimSize(3);
  int64_t R = op.getQPe().getType().getDimSize(3);
  int64_t L = op.getCKv().getType().getDimSize(1);
  OpFoldResult zero = b.getIndexAttr(0);
  OpFoldResult b0 = offsets[0], i0 = offsets[1], h0 = offsets[2],
               t0 = offsets[kKeyDim];
  OpFoldResult bs = sizes[0], is = sizes[1], hs = sizes[2], ts = sizes[kKeyDim];
  tile.qNope = slice(b, loc, op.getQNope(), {b0, i0, h0, zero},
                     {bs, is, hs, b.getIndexAttr(C)}, tile);
  tile.qPe = slice(b, loc, op.getQPe(), {b0, i0, h0, zero},
                   {bs, is, hs, b.getIndexAttr(R)}, tile);
  tile.cKv = slice(b, loc, op.getCKv(), {b0, t0, zero},
                   {bs, ts, b.getIndexAttr(C)}, tile);
  tile.kPe = slice(b, loc, op.getKPe(), {b0, t0, zero},
                   {bs, ts, b.getIndexAttr(R)}, tile);
  tile.startPos = slice(b, loc, op.getStartPos(), {b0}, {bs}, tile);
  tile.kvLen = slice(b, loc, op.getKvLen(), {b0}, {bs}, tile);

  // Query i of the tile is query i0 + i of the op and key t is t0 + t, so
  // the tile sees key t iff t <= (start_pos + i0 - t0) + i and
  // t < kv_len - t0. Any start_pos >= L sees every key, any start_pos <= -S
  // none, and kv_len likewise for L and 0: clamping first bounds the values.
  std::optional<int64_t> i0c = getConstantIntValue(i0),
                         t0c = getConstantIntValue(t0);
  bool wholeKeys = t0c == 0 && getConstantIntValue(ts) == L;
  auto index = [&](OpFoldResult v) {
    return getValueOrCreateConstantIndexOp(b, loc, v);
  };
  Value zeroValue = arith::ConstantIndexOp::create(b, loc, 0);
  Value lValue = arith::ConstantIndexOp::create(b, loc, L);
  auto sub = [&](Value x, Value y) {
    return b.createOrFold<arith::SubIOp>(loc, x, y);
  };
  if (!(i0c == 0 && wholeKeys)) {
    Value s = index(tensor::getMixedSize(b, loc, op.getQNope(), 1));
    tile.startPos = clampAndShift(b, loc, tile.startPos, sub(zeroValue, s),
                                  lValue, sub(index(i0), index(t0)));
  }
  if (!wholeKeys)
    tile.kvLen = clampAndShift(b, loc, tile.kvLen, zeroValue, lValue,
                               sub(zeroValue, index(t0)));
  return tile;
}

/// The shapes of a tile's lse [b, i, h] and output [b, i, h, C] from the
/// tile's sizes of (b, i, h, t).
struct TileShapes {
  SmallVector<int64_t> rows, out;
};
TileShapes tileShapes(ArrayRef<OpFoldResult> sizes, int64_t C) {
  TileShapes shapes;
  shapes.rows = llvm::map_to_vector(sizes.take_front(3), [](OpFoldResult s) {
    return getConstantIntValue(s).value_or(ShapedType::kDynamic);
  });
  shapes.out = shapes.rows;
  shapes.out.push_back(C);
  return shapes;
}

/// v[off : off + len] along the leading dimension.
Value leadingSlice(OpBuilder &b, Location loc, Value v, int64_t off,
                   int64_t len) {
  SmallVector<OpFoldResult> offsets(
      cast<RankedTensorType>(v.getType()).getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  offsets[0] = b.getIndexAttr(off);
  sizes[0] = b.getIndexAttr(len);
  return tensor::ExtractSliceOp::create(b, loc, v, offsets, sizes, strides);
}

/// Drops the unit leading dimension of `v`.
Value dropLeadingUnit(OpBuilder &b, Location loc, Value v) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<ReassociationIndices> reassoc = {{0, 1}};
  for (int64_t d = 2; d < type.getRank(); ++d)
    reassoc.push_back({d});
  return tensor::CollapseShapeOp::create(b, loc, v, reassoc);
}

} // namespace

SmallVector<utils::IteratorType> LatentAttentionOp::getLoopIteratorTypes() {
  auto par = utils::IteratorType::parallel;
  return {par, par, par, utils::IteratorType::reduction};
}

SmallVector<Range> LatentAttentionOp::getIterationDomain(OpBuilder &b) {
  Location loc = getLoc();
  OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
  SmallVector<Range> domain;
  for (int64_t d = 0; d < 3; ++d)
    domain.push_back({zero, tensor::getMixedSize(b, loc, getQNope(), d), one});
  domain.push_back({zero, tensor::getMixedSize(b, loc, getCKv(), 1), one});
  return domain;
}

FailureOr<TilingResult>
LatentAttentionOp::getTiledImplementation(OpBuilder &b,
                                          ArrayRef<OpFoldResult> offsets,
                                          ArrayRef<OpFoldResult> sizes) {
  // A tile of keys alone is not a tile of the result: the softmax over all
  // keys needs the partial results merged (tileToPartialReduction).
  int64_t L = getCKv().getType().getDimSize(1);
  if (getConstantIntValue(offsets[kKeyDim]) != 0 ||
      getConstantIntValue(sizes[kKeyDim]) != L)
    return emitOpError("tiles its key dimension only as a partial reduction "
                       "(split-KV)");
  FailureOr<TileOperands> tile =
      sliceOperands(b, getLoc(), *this, offsets, sizes);
  if (failed(tile))
    return emitOpError("tiles of the batch and head dimensions must have "
                       "constant sizes");
  TileShapes shapes = tileShapes(sizes, getQNope().getType().getDimSize(3));
  SmallVector<Type> types = {RankedTensorType::get(
      shapes.out, getResult().getType().getElementType())};
  if (getLse())
    types.push_back(RankedTensorType::get(shapes.rows, b.getF32Type()));
  auto tiled = LatentAttentionOp::create(
      b, getLoc(), types, tile->qNope, tile->qPe, tile->cKv, tile->kPe,
      tile->startPos, tile->kvLen, getScaleAttr());
  return TilingResult{
      {tiled}, SmallVector<Value>(tiled->getResults()), tile->slices};
}

LogicalResult LatentAttentionOp::getResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  resultOffsets.assign(offsets.begin(), offsets.begin() + 3);
  resultSizes.assign(sizes.begin(), sizes.begin() + 3);
  if (resultNumber == 0) {
    resultOffsets.push_back(b.getIndexAttr(0));
    resultSizes.push_back(b.getIndexAttr(getQNope().getType().getDimSize(3)));
  }
  return success();
}

FailureOr<SmallVector<Value>>
LatentAttentionOp::generateInitialTensorForPartialReduction(
    OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
    const SetVector<unsigned> &reductionDims) {
  // Partials [N, B, S, H, C] and [N, B, S, H], N the number of key tiles
  // (what the outer-parallel strategy passes as the key dimension's size).
  // Every element is written by exactly one tile: no identity fill.
  if (reductionDims.size() != 1 || reductionDims[0] != kKeyDim)
    return failure();
  SmallVector<OpFoldResult> lseSizes = {sizes[kKeyDim], sizes[0], sizes[1],
                                        sizes[2]};
  SmallVector<OpFoldResult> outSizes = lseSizes;
  outSizes.push_back(b.getIndexAttr(getQNope().getType().getDimSize(3)));
  Type f32 = b.getF32Type();
  return SmallVector<Value>{
      tensor::EmptyOp::create(b, loc, outSizes, f32).getResult(),
      tensor::EmptyOp::create(b, loc, lseSizes, f32).getResult()};
}

FailureOr<TilingResult> LatentAttentionOp::tileToPartialReduction(
    OpBuilder &b, Location loc, ReductionTilingStrategy tilingStrategy,
    ValueRange init, ArrayRef<OpFoldResult> offsets,
    ArrayRef<OpFoldResult> sizes, const SetVector<unsigned> &reductionDims,
    ArrayRef<OpFoldResult> splitReductionIvs) {
  // The outer-reduction strategy would need the tile to accumulate into a
  // running (output, lse) pair; only independent tiles merged at the end
  // (split-KV) are implemented.
  if (tilingStrategy != ReductionTilingStrategy::PartialReductionOuterParallel)
    return emitOpError("tiles its key dimension only with the outer-parallel "
                       "partial-reduction strategy (split-KV)");
  FailureOr<TileOperands> tile = sliceOperands(b, loc, *this, offsets, sizes);
  if (failed(tile))
    return emitOpError("tiles of the batch, head and key dimensions must "
                       "have constant sizes");
  TileShapes shapes = tileShapes(sizes, getQNope().getType().getDimSize(3));
  Type f32 = b.getF32Type();
  auto tiled = LatentAttentionOp::create(
      b, loc,
      TypeRange{RankedTensorType::get(shapes.out, f32),
                RankedTensorType::get(shapes.rows, f32)},
      tile->qNope, tile->qPe, tile->cKv, tile->kPe, tile->startPos, tile->kvLen,
      getScaleAttr());
  return TilingResult{
      {tiled}, SmallVector<Value>(tiled->getResults()), tile->slices};
}

LogicalResult LatentAttentionOp::getPartialResultTilePosition(
    OpBuilder &b, unsigned resultNumber, ReductionTilingStrategy tilingStrategy,
    ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes,
    const SetVector<unsigned> &reductionDims,
    ArrayRef<OpFoldResult> splitReductionIvs,
    SmallVector<OpFoldResult> &resultOffsets,
    SmallVector<OpFoldResult> &resultSizes) {
  if (tilingStrategy !=
          ReductionTilingStrategy::PartialReductionOuterParallel ||
      splitReductionIvs.size() != 1 || resultNumber > 1)
    return failure();
  // The tile's partials go to [n, b0, i0, h0(, 0)] of the [N, ...] inits.
  resultOffsets = {splitReductionIvs[0], offsets[0], offsets[1], offsets[2]};
  resultSizes = {b.getIndexAttr(1), sizes[0], sizes[1], sizes[2]};
  if (resultNumber == 0) {
    resultOffsets.push_back(b.getIndexAttr(0));
    resultSizes.push_back(b.getIndexAttr(getQNope().getType().getDimSize(3)));
  }
  return success();
}

FailureOr<MergeResult>
LatentAttentionOp::mergeReductions(OpBuilder &b, Location loc,
                                   ValueRange partialReduce,
                                   const SetVector<unsigned> &reductionDims) {
  if (partialReduce.size() != 2)
    return failure();
  Value o = partialReduce[0], lse = partialReduce[1];
  int64_t n = cast<RankedTensorType>(o.getType()).getDimSize(0);
  if (ShapedType::isDynamic(n) || n < 2)
    return emitOpError("split-KV needs a constant number of at least two key "
                       "tiles, got ")
           << (ShapedType::isDynamic(n) ? std::string("?") : std::to_string(n));
  Type resultElem = getResult().getType().getElementType();
  MergeResult result;
  auto merge = [&](Value o1, Value l1, Value o2, Value l2, Type elem) {
    auto oType = cast<RankedTensorType>(o1.getType());
    auto op = AttentionMergeOp::create(b, loc, oType.clone(elem), l1.getType(),
                                       o1, l1, o2, l2);
    result.mergeOps.push_back(op);
    return std::make_pair(op.getOut(), op.getLse());
  };
  // A balanced tree over the leading dimension: log2(N) merges, each over
  // half the parts at once. An odd count first folds its last part into
  // the first.
  while (n > 1) {
    if (n % 2 == 1) {
      auto [o0, l0] =
          merge(leadingSlice(b, loc, o, 0, 1), leadingSlice(b, loc, lse, 0, 1),
                leadingSlice(b, loc, o, n - 1, 1),
                leadingSlice(b, loc, lse, n - 1, 1), b.getF32Type());
      --n;
      auto insertFirst = [&](Value part, Value into) {
        into = leadingSlice(b, loc, into, 0, n);
        int64_t rank = cast<RankedTensorType>(into.getType()).getRank();
        SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
        SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
        return tensor::InsertSliceOp::create(
                   b, loc, part, into, offsets,
                   tensor::getMixedSizes(b, loc, part), strides)
            .getResult();
      };
      o = insertFirst(o0, o);
      lse = insertFirst(l0, lse);
      continue;
    }
    int64_t h = n / 2;
    std::tie(o, lse) =
        merge(leadingSlice(b, loc, o, 0, h), leadingSlice(b, loc, lse, 0, h),
              leadingSlice(b, loc, o, h, h), leadingSlice(b, loc, lse, h, h),
              h == 1 ? resultElem : b.getF32Type());
    n = h;
  }
  result.replacements.push_back(dropLeadingUnit(b, loc, o));
  if (getLse())
    result.replacements.push_back(dropLeadingUnit(b, loc, lse));
  return result;
}
