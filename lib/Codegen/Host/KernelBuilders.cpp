//===- KernelBuilders.cpp - pieces the host vector kernels share ----------===//
#include "KernelBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

Value dsv3::host::cIdx(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value dsv3::host::widenToF32(OpBuilder &b, Location loc, Value input) {
  auto type = cast<RankedTensorType>(input.getType());
  if (type.getElementType().isF32())
    return input;
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, input);
  Value empty = tensor::EmptyOp::create(b, loc, sizes, b.getF32Type());
  return linalg::CopyOp::create(b, loc, input, empty).getResult(0);
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

Value dsv3::host::widenE4M3Scaled(OpBuilder &b, Location loc, Value codes) {
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
  bits = arith::AndIOp::create(b, loc, bits, splat(0xbf80));
  Value half = arith::BitcastOp::create(
      b, loc, VectorType::get(shape, b.getF16Type()), bits);
  return arith::ExtFOp::create(b, loc, VectorType::get(shape, b.getF32Type()),
                               half);
}
