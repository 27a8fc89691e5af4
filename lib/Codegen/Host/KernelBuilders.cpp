//===- KernelBuilders.cpp - pieces the host vector kernels share ----------===//
#include "KernelBuilders.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

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
