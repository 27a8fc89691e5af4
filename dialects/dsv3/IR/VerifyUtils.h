//===- VerifyUtils.h - checks shared by the dsv3 verifiers ------*- C++ -*-===//
//
// Private to dialects/dsv3/IR: the pieces of verification that several op
// families share, so one malformed input gets the same message whichever op
// carries it.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_DIALECT_VERIFYUTILS_H
#define DSV3_DIALECT_VERIFYUTILS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/STLExtras.h"

#include <string>

namespace mlir::dsv3::detail {

/// "[4, 7168]".
inline std::string shapeOf(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os);
  os << "]";
  return s;
}

/// The importer's form of a module that reads its weights by HF name
/// (dsv3.moe, dsv3.mlp): a `prefix` joined to the HF suffixes with a dot
/// (an empty one or a trailing dot would silently give names no checkpoint
/// has) and a `weight_type` the projections support.
inline LogicalResult verifyHFModule(Operation *op, StringRef prefix,
                                    Type weightType) {
  if (prefix.empty() || prefix.ends_with("."))
    return op->emitOpError("prefix must be a non-empty HF module path without "
                           "a trailing '.', got '")
           << prefix << "'";
  if (!isa<BFloat16Type, Float16Type, Float32Type, Float8E4M3FNType>(
          weightType))
    return op->emitOpError(
               "weight_type must be bf16, f16, f32 or f8E4M3FN, got ")
           << weightType;
  return success();
}

} // namespace mlir::dsv3::detail

#endif // DSV3_DIALECT_VERIFYUTILS_H
