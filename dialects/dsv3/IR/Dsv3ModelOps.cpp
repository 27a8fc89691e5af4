//===- Dsv3ModelOps.cpp - verifiers of dsv3.embedding and dsv3.mlp --------===//
//
// An importer writes these ops from a config.json; the checks here report a
// malformed graph at parse time with the offending shapes or names.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::dsv3;

using mlir::dsv3::detail::shapeOf;

LogicalResult EmbeddingOp::verify() {
  auto table = getTable().getType();
  auto ids = getIds().getType();
  auto y = getResult().getType();
  if (!table.hasStaticShape() || !ids.hasStaticShape() || !y.hasStaticShape())
    return emitOpError("requires static shapes");
  if (table.getRank() != 2 || table.getDimSize(0) == 0)
    return emitOpError("table must be [vocab, hidden] with vocab > 0, got ")
           << shapeOf(table.getShape());
  SmallVector<int64_t> expected(ids.getShape());
  expected.push_back(table.getDimSize(1));
  if (y.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape must be ids.shape ++ [hidden] = ")
           << shapeOf(expected) << ", got " << shapeOf(y.getShape());
  return success();
}

LogicalResult MLPOp::verify() {
  auto x = getInput().getType();
  if (x.getRank() != 2 || !x.hasStaticShape())
    return emitOpError("expects a static rank-2 input [T, H]");
  if (getResult().getType().getShape() != x.getShape())
    return emitOpError("result must be ")
           << shapeOf(x.getShape()) << " ([T, H]), got "
           << shapeOf(getResult().getType().getShape());
  return dsv3::detail::verifyHFModule(*this, getPrefix(), getWeightType());
}
