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

/// "[4, 7168]", "[?, 7168]".
inline std::string shapeOf(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  os << "]";
  return s;
}

/// The one kind of dynamic size dsv3 ops take is a token count (the rows of
/// activations; one prefill serves any prompt length). Every dimension of
/// `t` but those listed in `tokenDims` must be static.
inline LogicalResult verifyStaticExceptTokens(Operation *op, StringRef what,
                                              ShapedType t,
                                              ArrayRef<int64_t> tokenDims) {
  for (int64_t i = 0, e = t.getRank(); i < e; ++i)
    if (t.isDynamicDim(i) && !llvm::is_contained(tokenDims, i))
      return op->emitOpError("requires static shapes except token "
                             "dimensions, but ")
             << what << " " << shapeOf(t.getShape()) << " has dimension " << i
             << " dynamic";
  return success();
}

/// a op b on sizes where either may be a dynamic token count.
inline int64_t mulSize(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b)
             ? ShapedType::kDynamic
             : a * b;
}
inline int64_t ceilDivSize(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) ? ShapedType::kDynamic : (a + b - 1) / b;
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
