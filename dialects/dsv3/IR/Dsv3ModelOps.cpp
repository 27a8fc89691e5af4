//===- Dsv3ModelOps.cpp - verifiers of dsv3.embedding and dsv3.mlp --------===//
//
// An importer writes these ops from a config.json; the checks here report a
// malformed graph at parse time with the offending shapes or names.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::dsv3;

static std::string shapeOf(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os);
  os << "]";
  return s;
}

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
  // Joined to the HF suffixes with a dot, as for dsv3.moe.
  StringRef prefix = getPrefix();
  if (prefix.empty() || prefix.ends_with("."))
    return emitOpError("prefix must be a non-empty HF module path without a "
                       "trailing '.', got '")
           << prefix << "'";
  if (!isa<BFloat16Type, Float16Type, Float32Type, Float8E4M3FNType>(
          getWeightType()))
    return emitOpError("weight_type must be bf16, f16, f32 or f8E4M3FN, got ")
           << getWeightType();
  return success();
}
