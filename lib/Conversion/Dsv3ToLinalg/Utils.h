//===- Utils.h - shared builders of the dsv3 -> linalg lowering -*- C++ -*-===//
//
// Private to lib/Conversion/Dsv3ToLinalg: the scalar formulas (casts, scale
// rounding) and tensor views (blocks) that the patterns of several op
// families share, so each formula of the spec is written once.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_CONVERSION_DSV3TOLINALG_UTILS_H
#define DSV3_CONVERSION_DSV3TOLINALG_UTILS_H

#include "dsv3/IR/Dsv3Dialect.h"

#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include <tuple>

namespace mlir::dsv3::detail {

Value constF32(OpBuilder &b, Location loc, float v);
/// Converts a float scalar to `to` (extf or truncf; identity when equal).
Value convertFloat(OpBuilder &b, Location loc, Value v, Type to);
Value toF32(OpBuilder &b, Location loc, Value v);
/// The saturating E4M3 cast of docs/semantics.md §4.2 (clamp to ±448, NaN kept,
/// RNE).
Value saturatingCastToE4M3(OpBuilder &b, Location loc, Value f32);
/// UE8M0 rounding of a positive f32 scale (exact exponent arithmetic).
Value roundUpToPowerOfTwo(OpBuilder &b, Location loc, Value f32);

/// A tensor of shape S seen as [S0/b0, b0, S1/b1, b1, ...] after padding every
/// dimension up to a multiple of its block. Padding never changes a block's
/// amax (|0| <= anything, and amax is clamped at 1e-4 anyway) and padded
/// elements are sliced away again by `unblock`.
struct BlockedView {
  Value value;                  // [nb0, b0, nb1, b1, ...]
  SmallVector<int64_t> padded;  // [nb0*b0, nb1*b1, ...]
  SmallVector<int64_t> nblocks; // [nb0, nb1, ...]
  /// Sizes of the dynamic dimensions (token rows, in blocks of 1): the same
  /// in the input, `padded`, `nblocks` and the blocked shape.
  SmallVector<Value> dynamic;
};

SmallVector<ReassociationIndices> pairReassociation(int64_t rank);
/// Pads `v` to whole blocks and expands each dim d into [d/b, b]. A dynamic
/// dimension must have block 1 (the verifiers ensure it).
BlockedView blockView(OpBuilder &b, Location loc, Value v,
                      ArrayRef<int64_t> block);
/// Collapses a blocked result back and crops the padding.
Value unblock(OpBuilder &b, Location loc, Value blocked,
              const BlockedView &view, RankedTensorType resultType);
/// (d0, ..., d_{2r-1}) -> (d0, d2, ...): block indices of a blocked space.
AffineMap blockIndexMap(MLIRContext *ctx, int64_t rank);
/// tensor.empty of `shape`; `dynamic` holds the sizes of its dynamic
/// dimensions (a token count), in order, as tensor.empty takes them.
Value emptyLike(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elem,
                ValueRange dynamic = {});
/// The sizes of the dynamic dimensions of `v` (tensor.dim ops), for
/// emptyLike of a shape whose only dynamic sizes are those of `v`.
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value v);
/// Integer tensor element (i32 or i64) as an index.
Value toIndex(OpBuilder &b, Location loc, Value v);
/// Map of `rank` dims selecting `picked` (in order).
AffineMap pickDims(MLIRContext *ctx, int64_t rank, ArrayRef<int64_t> picked);
/// `acc` (a float tensor) rounded element-wise to `elem` by one parallel
/// generic; `acc` itself when it already has that element type.
Value castTo(OpBuilder &b, Location loc, Value acc, Type elem);

/// Attention scalars shared by the plain and split-KV lowerings
/// (docs/semantics.md §10.5): scale · raw when key t is visible to new token i
/// (t <= start + i and t < kvLen, indices as i32/i64 tensor elements), -inf
/// otherwise.
Value maskedScore(OpBuilder &b, Location loc, Value raw, float scale, Value t,
                  Value i, Value start, Value kvLen);
/// acc + f32(x) · f32(y).
Value mulAddF32(OpBuilder &b, Location loc, Value x, Value y, Value acc);
/// acc + p · f32(v), or acc when p == 0: a hidden cache row (weight 0) is
/// skipped rather than multiplied, since unwritten rows may hold NaN or Inf.
Value weightedAddSkipZero(OpBuilder &b, Location loc, Value p, Value v,
                          Value acc);
Value zerosF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               ValueRange dynamic = {});
SmallVector<utils::IteratorType> blockedIterators(int64_t rank,
                                                  utils::IteratorType inner);

/// dsv3.quantize of `x` (docs/semantics.md §5.2-5.4): returns {q, the f32 scale
/// used for the division, the scale as stored (f32 or f8E8M0FNU)}.
std::tuple<Value, Value, Value>
buildQuantize(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> block,
              ScaleFormat fmt, RankedTensorType qType, Type storedScaleElem);

} // namespace mlir::dsv3::detail

#endif // DSV3_CONVERSION_DSV3TOLINALG_UTILS_H
