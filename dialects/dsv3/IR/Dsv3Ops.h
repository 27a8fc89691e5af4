//===- Dsv3Ops.h - dsv3 ops -------------------------------------*- C++ -*-===//
#ifndef DSV3_IR_DSV3OPS_H
#define DSV3_IR_DSV3OPS_H

#include "dsv3/IR/Dsv3Dialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

#define GET_OP_CLASSES
#include "dsv3/IR/Dsv3Ops.h.inc"

namespace mlir::dsv3 {
/// FP8 E4M3 block size of DeepSeek-V3 weights (docs/semantics.md §5.4) and
/// activations.
constexpr int64_t kQuantBlock = 128;
/// Largest finite E4M3FN value.
constexpr float kFp8E4M3Max = 448.0f;
/// Lower clamp of a block's amax (docs/semantics.md §5.2, DeepSeek commit
/// adecc0e).
constexpr float kAmaxFloor = 1e-4f;
/// Number of blocks of size `b` covering `n` elements (n >= 0, b > 0).
constexpr int64_t ceilDiv(int64_t n, int64_t b) { return (n + b - 1) / b; }
} // namespace mlir::dsv3

#endif // DSV3_IR_DSV3OPS_H
