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
#include "llvm/Support/CheckedArithmetic.h"

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

/// The most elements any tensor a dsv3 op takes, returns or lowers into may
/// have: 2^48, thousands of times DeepSeek-V3's largest (an MoE layer's
/// stacked experts, 256 x 2048 x 7168 = 2^31.8), and small enough that the
/// lowerings' sums and products of a few such sizes, and their byte sizes,
/// cannot wrap int64. Attributes that size derived tensors are checked
/// against it, so a module never allocates a size that wrapped.
inline constexpr int64_t kMaxElements = int64_t(1) << 48;

/// The product of `factors` (sizes or attribute values; a dynamic one is
/// skipped), or an error naming `what` when a factor is negative or the
/// product exceeds kMaxElements.
inline FailureOr<int64_t> boundedProduct(Operation *op, const llvm::Twine &what,
                                         ArrayRef<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors) {
    if (ShapedType::isDynamic(f))
      continue;
    std::optional<int64_t> p =
        f < 0 ? std::nullopt : llvm::checkedMul(product, f);
    if (!p || *p > kMaxElements) {
      std::string list;
      for (int64_t g : factors)
        list +=
            (list.empty() ? "" : " x ") +
            (ShapedType::isDynamic(g) ? std::string("?") : std::to_string(g));
      return op->emitOpError() << what << " = " << list
                               << " is negative or exceeds 2^48 elements";
    }
    product = *p;
  }
  return product;
}

/// The one kind of dynamic size dsv3 ops take is a token count (the rows of
/// activations; one prefill serves any prompt length). Every dimension of
/// `t` but those listed in `tokenDims` must be static, and its static
/// dimensions must hold at most kMaxElements elements.
inline LogicalResult verifyStaticExceptTokens(Operation *op, StringRef what,
                                              ShapedType t,
                                              ArrayRef<int64_t> tokenDims) {
  for (int64_t i = 0, e = t.getRank(); i < e; ++i)
    if (t.isDynamicDim(i) && !llvm::is_contained(tokenDims, i))
      return op->emitOpError("requires static shapes except token "
                             "dimensions, but ")
             << what << " " << shapeOf(t.getShape()) << " has dimension " << i
             << " dynamic";
  return boundedProduct(op, llvm::Twine("the elements of ") + what,
                        t.getShape());
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
