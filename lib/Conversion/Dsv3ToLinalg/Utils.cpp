//===- Utils.cpp - shared builders of the dsv3 -> linalg lowering ---------===//
//
// Scalar and tensor builders used by the lowering patterns of every dsv3 op
// family (see Utils.h).
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Utils/Utils.h"

#include <limits>

using namespace mlir;
using namespace mlir::dsv3;
using utils::IteratorType;

namespace mlir::dsv3::detail {

//===----------------------------------------------------------------------===//
// Scalar helpers used inside generic bodies
//===----------------------------------------------------------------------===//

Value constF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// Converts a float scalar to `to` (extf or truncf; identity when equal).
Value convertFloat(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

Value toF32(OpBuilder &b, Location loc, Value v) {
  return convertFloat(b, loc, v, b.getF32Type());
}

/// The saturating E4M3 cast of docs/semantics.md §4.2: clamp to ±448 (NaN
/// propagates through minimumf/maximumf), then round to nearest even.
Value saturatingCastToE4M3(OpBuilder &b, Location loc, Value f32) {
  Value hi = constF32(b, loc, kFp8E4M3Max);
  Value lo = constF32(b, loc, -kFp8E4M3Max);
  Value c = arith::MinimumFOp::create(b, loc, f32, hi);
  c = arith::MaximumFOp::create(b, loc, c, lo);
  return arith::TruncFOp::create(b, loc, b.getType<Float8E4M3FNType>(), c);
}

/// Rounds a positive f32 scale up to a power of two with exact exponent
/// arithmetic (docs/semantics.md §5.3, DeepGEMM's `ceil_to_ue8m0`): exponent
/// field + 1 when any mantissa bit is set. Inf and NaN (exponent 255) pass
/// through.
Value roundUpToPowerOfTwo(OpBuilder &b, Location loc, Value f32) {
  Type i32 = b.getI32Type();
  auto c = [&](int32_t v) {
    return arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(v));
  };
  Value bits = arith::BitcastOp::create(b, loc, i32, f32);
  Value exp = arith::AndIOp::create(
      b, loc, arith::ShRUIOp::create(b, loc, bits, c(23)), c(0xff));
  Value mant = arith::AndIOp::create(b, loc, bits, c(0x7fffff));
  Value hasMant =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, mant, c(0));
  Value finite =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, exp, c(0xff));
  Value bump = arith::AndIOp::create(b, loc, hasMant, finite);
  Value newExp = arith::AddIOp::create(
      b, loc, exp, arith::ExtUIOp::create(b, loc, i32, bump));
  Value rounded = arith::BitcastOp::create(
      b, loc, b.getF32Type(), arith::ShLIOp::create(b, loc, newExp, c(23)));
  return arith::SelectOp::create(b, loc, finite, rounded, f32);
}

//===----------------------------------------------------------------------===//
// Block views: pad a tensor to whole blocks and split each dim in two
//===----------------------------------------------------------------------===//

SmallVector<ReassociationIndices> pairReassociation(int64_t rank) {
  SmallVector<ReassociationIndices> r;
  for (int64_t i = 0; i < rank; ++i)
    r.push_back({2 * i, 2 * i + 1});
  return r;
}

BlockedView blockView(OpBuilder &b, Location loc, Value v,
                      ArrayRef<int64_t> block) {
  auto type = cast<RankedTensorType>(v.getType());
  BlockedView view;
  SmallVector<int64_t> expanded;
  SmallVector<OpFoldResult> low, high;
  bool needsPad = false;
  view.dynamic = dynamicSizes(b, loc, v);
  SmallVector<OpFoldResult> expandedSizes;
  auto nextDynamic = view.dynamic.begin();
  for (auto [dim, blk] : llvm::zip_equal(type.getShape(), block)) {
    if (ShapedType::isDynamic(dim)) {
      assert(blk == 1 && "a dynamic dimension is blocked by 1");
      view.nblocks.push_back(dim);
      view.padded.push_back(dim);
      expanded.append({dim, 1});
      expandedSizes.append({*nextDynamic++, b.getIndexAttr(1)});
      low.push_back(b.getIndexAttr(0));
      high.push_back(b.getIndexAttr(0));
      continue;
    }
    int64_t nb = ceilDiv(dim, blk);
    expandedSizes.append({b.getIndexAttr(nb), b.getIndexAttr(blk)});
    view.nblocks.push_back(nb);
    view.padded.push_back(nb * blk);
    expanded.append({nb, blk});
    low.push_back(b.getIndexAttr(0));
    high.push_back(b.getIndexAttr(nb * blk - dim));
    needsPad |= nb * blk != dim;
  }
  Value padded = v;
  if (needsPad) {
    auto padType = RankedTensorType::get(view.padded, type.getElementType());
    Value zero = arith::ConstantOp::create(
        b, loc, b.getFloatAttr(type.getElementType(), 0.0));
    padded = tensor::PadOp::create(b, loc, padType, v, low, high, zero);
  }
  view.value = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(expanded, type.getElementType()), padded,
      pairReassociation(type.getRank()), expandedSizes);
  return view;
}

/// Inverse of blockView for a result computed on the blocked shape.
Value unblock(OpBuilder &b, Location loc, Value blocked,
              const BlockedView &view, RankedTensorType resultType) {
  auto elem = cast<RankedTensorType>(blocked.getType()).getElementType();
  Value flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get(view.padded, elem), blocked,
      pairReassociation(resultType.getRank()));
  if (ArrayRef<int64_t>(view.padded) == resultType.getShape())
    return flat;
  int64_t rank = resultType.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
      strides(rank, b.getIndexAttr(1)), sizes;
  auto nextDynamic = view.dynamic.begin();
  for (int64_t d : resultType.getShape())
    sizes.push_back(ShapedType::isDynamic(d) ? OpFoldResult(*nextDynamic++)
                                             : b.getIndexAttr(d));
  return tensor::ExtractSliceOp::create(b, loc, resultType, flat, offsets,
                                        sizes, strides);
}

/// Maps (d0, d1, ..., d_{2r-1}) of a blocked iteration space to the block
/// indices (d0, d2, ...).
AffineMap blockIndexMap(MLIRContext *ctx, int64_t rank) {
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    exprs.push_back(getAffineDimExpr(2 * i, ctx));
  return AffineMap::get(2 * rank, 0, exprs, ctx);
}

Value emptyLike(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elem,
                ValueRange dynamic) {
  return tensor::EmptyOp::create(b, loc, shape, elem, dynamic);
}

SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value v) {
  return tensor::createDynamicDimValues(b, loc, v);
}

Value zerosF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               ValueRange dynamic) {
  Value init = emptyLike(b, loc, shape, b.getF32Type(), dynamic);
  return linalg::FillOp::create(b, loc, constF32(b, loc, 0.0f), init)
      .getResult(0);
}

SmallVector<IteratorType> blockedIterators(int64_t rank, IteratorType inner) {
  SmallVector<IteratorType> its;
  for (int64_t i = 0; i < rank; ++i)
    its.append({IteratorType::parallel, inner});
  return its;
}

//===----------------------------------------------------------------------===//
// dsv3.quantize
//===----------------------------------------------------------------------===//

/// Emits the quantization of `x` and returns {q, scale in f32 (used for the
/// division), scale as stored (f32 or f8E8M0FNU)}.
std::tuple<Value, Value, Value>
buildQuantize(OpBuilder &b, Location loc, Value x, ArrayRef<int64_t> block,
              ScaleFormat fmt, RankedTensorType qType, Type storedScaleElem) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t rank = xType.getRank();
  BlockedView view = blockView(b, loc, x, block);
  AffineMap id = b.getMultiDimIdentityMap(2 * rank);
  AffineMap blk = blockIndexMap(ctx, rank);

  // amax over each block. maxnumf ignores NaN: a NaN element does not poison
  // its block's scale and stays NaN through the cast below.
  Value amax =
      linalg::GenericOp::create(
          b, loc,
          TypeRange{RankedTensorType::get(view.nblocks, b.getF32Type())},
          ValueRange{view.value},
          ValueRange{zerosF32(b, loc, view.nblocks, view.dynamic)},
          ArrayRef<AffineMap>{id, blk},
          blockedIterators(rank, IteratorType::reduction),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value a = math::AbsFOp::create(nb, l, toF32(nb, l, args[0]));
            linalg::YieldOp::create(
                nb, l, ValueRange{arith::MaxNumFOp::create(nb, l, args[1], a)});
          })
          .getResult(0);

  // scale = max(amax, 1e-4) / 448, optionally rounded up to a power of two.
  AffineMap idS = b.getMultiDimIdentityMap(rank);
  SmallVector<IteratorType> par(rank, IteratorType::parallel);
  Value scale =
      linalg::GenericOp::create(
          b, loc, TypeRange{amax.getType()}, ValueRange{amax},
          ValueRange{
              emptyLike(b, loc, view.nblocks, b.getF32Type(), view.dynamic)},
          ArrayRef<AffineMap>{idS, idS}, par,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value a = arith::MaxNumFOp::create(nb, l, args[0],
                                               constF32(nb, l, kAmaxFloor));
            Value s =
                arith::DivFOp::create(nb, l, a, constF32(nb, l, kFp8E4M3Max));
            if (fmt == ScaleFormat::ue8m0)
              s = roundUpToPowerOfTwo(nb, l, s);
            linalg::YieldOp::create(nb, l, ValueRange{s});
          })
          .getResult(0);

  // q = e4m3_sat(f32(x) / scale), on the blocked shape, then cropped.
  SmallVector<int64_t> blockedShape(
      cast<RankedTensorType>(view.value.getType()).getShape());
  Type f8 = qType.getElementType();
  Value qBlocked =
      linalg::GenericOp::create(
          b, loc, TypeRange{RankedTensorType::get(blockedShape, f8)},
          ValueRange{view.value, scale},
          ValueRange{emptyLike(b, loc, blockedShape, f8, view.dynamic)},
          ArrayRef<AffineMap>{id, blk, id},
          blockedIterators(rank, IteratorType::parallel),
          [&](OpBuilder &nb, Location l, ValueRange args) {
            Value v =
                arith::DivFOp::create(nb, l, toF32(nb, l, args[0]), args[1]);
            linalg::YieldOp::create(nb, l,
                                    ValueRange{saturatingCastToE4M3(nb, l, v)});
          })
          .getResult(0);
  Value q = unblock(b, loc, qBlocked, view, qType);

  Value stored = scale;
  if (storedScaleElem != b.getF32Type()) {
    stored =
        linalg::GenericOp::create(
            b, loc,
            TypeRange{RankedTensorType::get(view.nblocks, storedScaleElem)},
            ValueRange{scale},
            ValueRange{
                emptyLike(b, loc, view.nblocks, storedScaleElem, view.dynamic)},
            ArrayRef<AffineMap>{idS, idS}, par,
            [&](OpBuilder &nb, Location l, ValueRange args) {
              linalg::YieldOp::create(nb, l,
                                      ValueRange{arith::TruncFOp::create(
                                          nb, l, storedScaleElem, args[0])});
            })
            .getResult(0);
  }
  return {q, scale, stored};
}

} // namespace mlir::dsv3::detail

Value mlir::dsv3::detail::toIndex(OpBuilder &b, Location loc, Value v) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
}

AffineMap mlir::dsv3::detail::pickDims(MLIRContext *ctx, int64_t rank,
                                       ArrayRef<int64_t> picked) {
  SmallVector<AffineExpr> exprs;
  for (int64_t d : picked)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value mlir::dsv3::detail::castTo(OpBuilder &b, Location loc, Value acc,
                                 Type elem) {
  auto type = cast<RankedTensorType>(acc.getType());
  if (type.getElementType() == elem)
    return acc;
  AffineMap id = b.getMultiDimIdentityMap(type.getRank());
  return linalg::GenericOp::create(
             b, loc, TypeRange{RankedTensorType::get(type.getShape(), elem)},
             ValueRange{acc},
             ValueRange{emptyLike(b, loc, type.getShape(), elem,
                                  dynamicSizes(b, loc, acc))},
             ArrayRef<AffineMap>{id, id},
             SmallVector<IteratorType>(type.getRank(), IteratorType::parallel),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(
                   nb, l, ValueRange{convertFloat(nb, l, args[0], elem)});
             })
      .getResult(0);
}

Value mlir::dsv3::detail::maskedScore(OpBuilder &b, Location loc, Value raw,
                                      float scale, Value t, Value i,
                                      Value start, Value kvLen) {
  Value last = arith::AddIOp::create(b, loc, toIndex(b, loc, start), i);
  Value causal =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, t, last);
  Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, t,
                                      toIndex(b, loc, kvLen));
  Value visible = arith::AndIOp::create(b, loc, causal, valid);
  Value s = arith::MulFOp::create(b, loc, raw, constF32(b, loc, scale));
  return arith::SelectOp::create(
      b, loc, visible, s,
      constF32(b, loc, -std::numeric_limits<float>::infinity()));
}

Value mlir::dsv3::detail::mulAddF32(OpBuilder &b, Location loc, Value x,
                                    Value y, Value acc) {
  Value p = arith::MulFOp::create(b, loc, toF32(b, loc, x), toF32(b, loc, y));
  return arith::AddFOp::create(b, loc, acc, p);
}

Value mlir::dsv3::detail::weightedAddSkipZero(OpBuilder &b, Location loc,
                                              Value p, Value v, Value acc) {
  Value zero = constF32(b, loc, 0.0f);
  Value used =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::ONE, p, zero);
  Value pv = arith::MulFOp::create(b, loc, p, toF32(b, loc, v));
  pv = arith::SelectOp::create(b, loc, used, pv, zero);
  return arith::AddFOp::create(b, loc, acc, pv);
}
