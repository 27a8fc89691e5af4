//===- AbsorbedHeads.h - absorbed MLA's per-head kv_b products ------------===//
//
// dsv3-decompose-mla{form=absorbed} multiplies by kv_b_proj per head twice
// (q_nope · W_UK and o_lat · W_UVᵀ) as linalg.generic contractions over a
// slice of the dequantized weight. The host and cuda strategies that read
// the FP8 codes in the products instead share this matcher.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_CODEGEN_COMMON_ABSORBEDHEADS_H
#define DSV3_CODEGEN_COMMON_ABSORBEDHEADS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::dsv3 {

/// The dequantization block of kv_b_proj these products read.
constexpr int64_t kAbsorbedHeadsBlock = 128;

/// The per-head weight a contraction reads: rows [off, off + n) of each
/// head's P rows of a dequantized [H·P, C] matrix, as `tensor.extract_slice
/// (tensor.expand_shape (dsv3.dequantize q, s block [128, 128]))`.
struct HeadWeight {
  Value codes, scale; // [H·P, C] f8E4M3FN, [ceil(H·P/128), ceil(C/128)] f32
  Type elem;          // what dequantize rounds to
  int64_t heads, rowsPerHead, offset, rows, cols;
};

/// A per-head contraction `out[b,s,h,n] = Σ x[b,s,h,j] · W_h(...)` of
/// static shape with an f32 result initialised to zero: its head weight, and
/// which of the two products it is (UK: Σ over the weight slice's rows,
/// `Σ_j x[..,j] W[h,j,n]`; UV: over its columns, `Σ_c x[..,c] W[h,n,c]`).
/// The weight's C is a multiple of 8.
struct AbsorbedHeadContraction {
  HeadWeight w;
  bool overRows;
};

std::optional<AbsorbedHeadContraction>
matchAbsorbedHeadContraction(linalg::GenericOp op);

} // namespace mlir::dsv3

#endif // DSV3_CODEGEN_COMMON_ABSORBEDHEADS_H
