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
using mlir::dsv3::detail::verifyStaticExceptTokens;

LogicalResult EmbeddingOp::verify() {
  auto table = getTable().getType();
  auto ids = getIds().getType();
  auto y = getResult().getType();
  // Every dimension of the ids is a token dimension.
  auto all = llvm::to_vector(llvm::seq<int64_t>(0, ids.getRank()));
  if (failed(verifyStaticExceptTokens(*this, "table", table, {})))
    return failure();
  if (table.getRank() != 2 || table.getDimSize(0) == 0)
    return emitOpError("table must be [vocab, hidden] with vocab > 0, got ")
           << shapeOf(table.getShape());
  SmallVector<int64_t> expected(ids.getShape());
  expected.push_back(table.getDimSize(1));
  if (y.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape must be ids.shape ++ [hidden] = ")
           << shapeOf(expected) << ", got " << shapeOf(y.getShape());
  return verifyStaticExceptTokens(*this, "ids", ids, all);
}

LogicalResult MLPOp::verify() {
  auto x = getInput().getType();
  if (x.getRank() != 2)
    return emitOpError("expects a rank-2 input [T, H]");
  if (failed(verifyStaticExceptTokens(*this, "input", x, {0})))
    return failure();
  if (getResult().getType().getShape() != x.getShape())
    return emitOpError("result must be ")
           << shapeOf(x.getShape()) << " ([T, H]), got "
           << shapeOf(getResult().getType().getShape());
  if (failed(dsv3::detail::boundedProduct(
          *this, "intermediate_size x hidden",
          {static_cast<int64_t>(getIntermediateSize()), x.getDimSize(1)})))
    return failure();
  return dsv3::detail::verifyHFModule(*this, getPrefix(), getWeightType());
}
