//===- KernelBuilders.cpp - pieces the host vector kernels share ----------===//
#include "KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

Value dsv3::host::cIdx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value dsv3::host::castElements(OpBuilder &b, Location loc, Value input,
                               Type elem) {
  if (cast<RankedTensorType>(input.getType()).getElementType() == elem)
    return input;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, elem);
  return linalg::CopyOp::create(b, loc, input, empty).getResult(0);
}

Value dsv3::host::widenToF32(OpBuilder &b, Location loc, Value input) {
  return castElements(b, loc, input, b.getF32Type());
}

Value dsv3::host::zerosF32(OpBuilder &b, Location loc,
                           ArrayRef<OpFoldResult> sizes) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  return linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{empty})
      .getResult(0);
}

Value dsv3::host::forEachTile(OpBuilder &b, Location loc, OpFoldResult begin,
                              OpFoldResult end, ArrayRef<int64_t> tiles,
                              Value dest, TileBody body) {
  std::optional<int64_t> lo = getConstantIntValue(begin),
                         hi = getConstantIntValue(end);
  Value done = getValueOrCreateConstantIndexOp(b, loc, begin);
  Value endV = getValueOrCreateConstantIndexOp(b, loc, end);
  int64_t doneStatic = lo.value_or(0);
  for (int64_t tile : tiles) {
    Value stop;
    if (lo && hi) {
      int64_t e = doneStatic + (*hi - doneStatic) / tile * tile;
      if (e == doneStatic)
        continue;
      doneStatic = e;
      stop = cIdx(b, loc, e);
    } else {
      Value count = arith::SubIOp::create(b, loc, endV, done);
      stop = arith::AddIOp::create(
          b, loc, done,
          arith::MulIOp::create(
              b, loc, arith::DivUIOp::create(b, loc, count, cIdx(b, loc, tile)),
              cIdx(b, loc, tile)));
    }
    dest = scf::ForOp::create(
               b, loc, done, stop, cIdx(b, loc, tile), ValueRange{dest},
               [&](OpBuilder &b, Location loc, Value i0, ValueRange in) {
                 scf::YieldOp::create(b, loc, body(b, loc, i0, tile, in[0]));
               })
               .getResult(0);
    done = stop;
  }
  return dest;
}

void dsv3::host::yieldSlice(OpBuilder &b, Location loc, Value part, Value out,
                            ArrayRef<OpFoldResult> offsets,
                            ArrayRef<OpFoldResult> sizes) {
  auto inParallel = scf::InParallelOp::create(b, loc);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(inParallel.getBody());
  SmallVector<OpFoldResult> strides(offsets.size(), b.getIndexAttr(1));
  tensor::ParallelInsertSliceOp::create(b, loc, part, out, offsets, sizes,
                                        strides);
}

Value dsv3::host::e4m3ToScaledF16Bits(OpBuilder &b, Location loc, Value codes) {
  auto shape = cast<VectorType>(codes.getType()).getShape();
  auto i8 = VectorType::get(shape, b.getI8Type());
  auto i16 = VectorType::get(shape, b.getI16Type());
  auto splat = [&](int64_t v) {
    return arith::ConstantOp::create(
        b, loc, i16,
        DenseElementsAttr::get(i16, APInt(16, static_cast<uint64_t>(v))));
  };
  Value bits = arith::BitcastOp::create(b, loc, i8, codes);
  bits = arith::ExtSIOp::create(b, loc, i16, bits);
  bits = arith::ShLIOp::create(b, loc, bits, splat(7));
  return arith::AndIOp::create(b, loc, bits, splat(0xbf80));
}

Value dsv3::host::scaledF16BitsToF32(OpBuilder &b, Location loc, Value bits) {
  auto shape = cast<VectorType>(bits.getType()).getShape();
  Value half = arith::BitcastOp::create(
      b, loc, VectorType::get(shape, b.getF16Type()), bits);
  return arith::ExtFOp::create(b, loc, VectorType::get(shape, b.getF32Type()),
                               half);
}

Value dsv3::host::widenE4M3Scaled(OpBuilder &b, Location loc, Value codes) {
  return scaledF16BitsToF32(b, loc, e4m3ToScaledF16Bits(b, loc, codes));
}

/// A 16-lane vector's lanes i + i+8, as 8 lanes: the first step of LLVM's
/// x86 reduction tree at 512 bits, after which the 256-bit tree continues.
static Value addHalves(OpBuilder &b, Location loc, Value v) {
  auto half = [&](int64_t offset) {
    return vector::ExtractStridedSliceOp::create(b, loc, v, {offset}, {8}, {1})
        .getResult();
  };
  return arith::AddFOp::create(b, loc, half(0), half(8));
}

Value dsv3::host::reduceLanes(OpBuilder &b, Location loc, Value lanes) {
  if (cast<VectorType>(lanes.getType()).getNumElements() == 16)
    lanes = addHalves(b, loc, lanes);
  return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD, lanes,
                                     arith::FastMathFlags::reassoc);
}

bool dsv3::host::canSumLanesByRows(int64_t numRows, int64_t width) {
  return (width == 8 || width == 16) && (numRows == 4 || numRows == 8);
}

Value dsv3::host::sumLanesByRows(OpBuilder &b, Location loc,
                                 ValueRange lanesIn) {
  assert(canSumLanesByRows(
      lanesIn.size(), cast<VectorType>(lanesIn[0].getType()).getNumElements()));
  SmallVector<Value> lanes(lanesIn.begin(), lanesIn.end());
  for (Value &v : lanes)
    if (cast<VectorType>(v.getType()).getNumElements() == 16)
      v = addHalves(b, loc, v);
  auto add = [&](Value x, Value y) {
    return arith::AddFOp::create(b, loc, x, y).getResult();
  };
  // x[mask] + y[mask'] over the 16 lanes of (x, y).
  auto addShuffled = [&](Value x, Value y, ArrayRef<int64_t> first,
                         ArrayRef<int64_t> second) {
    return add(vector::ShuffleOp::create(b, loc, x, y, first),
               vector::ShuffleOp::create(b, loc, x, y, second));
  };
  // Rows 2j and 2j+1: lanes 0..3 hold row 2j's sums of lanes i and i + 4,
  // lanes 4..7 row 2j+1's.
  SmallVector<Value> halves;
  for (size_t j = 0; j < lanes.size(); j += 2)
    halves.push_back(addShuffled(lanes[j], lanes[j + 1],
                                 {0, 1, 2, 3, 8, 9, 10, 11},
                                 {4, 5, 6, 7, 12, 13, 14, 15}));
  // Rows 4i..4i+3, each as the sums of its lanes (0, 2) and (1, 3), in the
  // lanes [4i: 0 1, 4i+2: 2 3, 4i+1: 4 5, 4i+3: 6 7].
  SmallVector<Value> quarters;
  for (size_t i = 0; i < halves.size(); i += 2)
    quarters.push_back(addShuffled(halves[i], halves[i + 1],
                                   {0, 1, 8, 9, 4, 5, 12, 13},
                                   {2, 3, 10, 11, 6, 7, 14, 15}));
  // The two sums of each row, added in row order.
  if (quarters.size() == 1)
    return addShuffled(quarters[0], quarters[0], {0, 4, 2, 6}, {1, 5, 3, 7});
  return addShuffled(quarters[0], quarters[1], {0, 4, 2, 6, 8, 12, 10, 14},
                     {1, 5, 3, 7, 9, 13, 11, 15});
}

Location dsv3::host::routerLogitsLoc(Location gateLoc) {
  auto name = dyn_cast<NameLoc>(gateLoc);
  if (!name)
    return gateLoc;
  StringRef rest = name.getName().getValue();
  if (!rest.consume_front("moe_gate"))
    return gateLoc;
  return NameLoc::get(StringAttr::get(gateLoc->getContext(), "linear" + rest),
                      name.getChildLoc());
}

Value dsv3::host::prefetchView(OpBuilder &b, Location loc, Value weights) {
  auto type = cast<RankedTensorType>(weights.getType());
  auto layout = StridedLayoutAttr::get(
      b.getContext(), ShapedType::kDynamic,
      SmallVector<int64_t>(type.getRank(), ShapedType::kDynamic));
  return bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(type.getShape(), type.getElementType(), layout),
      weights, /*read_only=*/true);
}

Value dsv3::host::clampToLast(OpBuilder &b, Location loc, Value view,
                              int64_t dim, Value index) {
  auto type = cast<MemRefType>(view.getType());
  Value last = type.isDynamicDim(dim)
                   ? arith::SubIOp::create(
                         b, loc, memref::DimOp::create(b, loc, view, dim),
                         cIdx(b, loc, 1))
                         .getResult()
                   : cIdx(b, loc, type.getDimSize(dim) - 1);
  return arith::MinUIOp::create(b, loc, index, last);
}

void dsv3::host::prefetchRead(OpBuilder &b, Location loc, Value view,
                              ValueRange indices) {
  memref::PrefetchOp::create(b, loc, view, indices, /*isWrite=*/false,
                             /*localityHint=*/3, /*isDataCache=*/true);
}
