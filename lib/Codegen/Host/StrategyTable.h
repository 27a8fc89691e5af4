//===- StrategyTable.h - which host strategy runs each op -------*- C++ -*-===//
//
// The host target's strategy table (IREE's KernelDispatch in small): for
// each op family, the kernel that runs it and that kernel's tile
// parameters, or the op's linalg definition (parallel loops on an OpenMP
// team). dsv3-host-select-strategy writes the choice on each op as a
// `dsv3.host_strategy` dictionary; the kernel passes read it, so a user can
// override a kernel or its tile sizes per op in the IR and see what changes.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_CODEGEN_HOST_STRATEGYTABLE_H
#define DSV3_CODEGEN_HOST_STRATEGYTABLE_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Operation.h"

namespace mlir::dsv3::host {

/// The discardable attribute that carries an op's strategy.
inline constexpr llvm::StringLiteral kStrategyAttr = "dsv3.host_strategy";

/// Kernel names (the `kernel` entry of a strategy).
inline constexpr llvm::StringLiteral kDefinition = "definition";
inline constexpr llvm::StringLiteral kWeightTiles = "weight_tiles";
inline constexpr llvm::StringLiteral kMQATiles = "mqa_tiles";
inline constexpr llvm::StringLiteral kAbsorbedHeads = "absorbed_heads";

/// Tile parameters of the weight_tiles kernel (dsv3.linear and
/// dsv3.grouped_matmul; see VectorizeFP8Linear.cpp).
struct WeightTiles {
  int64_t rowsPerTask;  // weight rows per scf.forall iteration
  int64_t decodeTokens; // up to this many tokens take K in one pass
  int64_t tokenBlock;   // more tokens go in blocks of this many ...
  int64_t chunkBlocks;  // ... and K in chunks of this many 128-blocks
};

/// Tile parameters of the mqa_tiles kernel (dsv3.latent_attention; see
/// VectorizeLatentAttention.cpp).
struct MQATiles {
  int64_t keyBlock; // keys per block of the weighted sum
};

/// What the table says for `op` (its own choice when `boundByKvLen` is
/// false: unbounded key loops are the attention definition's form), or a
/// null attribute for an op the table does not cover (its definition).
DictionaryAttr selectStrategy(Operation *op, bool boundByKvLen = true);

/// Checks a strategy written on `op` (by the table or by hand): a kernel
/// that can run this op, and parameters it knows within their bounds.
LogicalResult verifyStrategy(Operation *op, DictionaryAttr strategy);

/// Verifies every strategy written under `root` (a kernel pass's first step,
/// so a bad hand-written strategy is an error, not a silent fallback).
LogicalResult verifyStrategies(Operation *root);

/// The strategy `op` carries, else the table's; null for neither.
DictionaryAttr strategyOf(Operation *op);

/// The kernel a strategy names ("" for a null strategy).
StringRef kernelOf(DictionaryAttr strategy);

/// Parameters of `op`'s verified strategy: its entries, else the table's
/// defaults for the kernel.
WeightTiles weightTilesOf(Operation *op, DictionaryAttr strategy);
MQATiles mqaTilesOf(Operation *op, DictionaryAttr strategy);

/// True if `op` is one of absorbed MLA's per-head contractions with a
/// dequantized kv_b_proj slice (VectorizeAbsorbedHeads.cpp).
bool isAbsorbedHeadContraction(Operation *op);

} // namespace mlir::dsv3::host

#endif // DSV3_CODEGEN_HOST_STRATEGYTABLE_H
