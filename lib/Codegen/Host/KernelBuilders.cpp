//===- KernelBuilders.cpp - pieces the host vector kernels share ----------===//
#include "KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

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
