//===- Passes.h - dsv3 passes -----------------------------------*- C++ -*-===//
//
// Declarations of every dsv3 pass. Heavy dialect headers stay out of here on
// purpose: each pass's .cpp pulls in what it needs.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_PASSES_H
#define DSV3_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::dsv3 {

#define GEN_PASS_DECL
#include "dsv3/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dsv3/Passes.h.inc"

/// The largest tile dsv3-host-tile-and-fuse-rows fuses into a row loop, in
/// bytes; the host pipeline promotes a static buffer up to this size inside
/// an scf.forall (such a tile's scratch) to the stack. One constant, so
/// every fused tile is promoted and no row loop allocates on the heap.
inline constexpr int64_t kHostRowScratchBytes = 64 * 1024;

} // namespace mlir::dsv3

#endif // DSV3_PASSES_H
