//===- Common.h - stages shared by the host and cuda pipelines --*- C++ -*-===//
//
// Private to lib/Pipelines: both targets bufferize the same way so that the
// entry calling convention (out-params, docs/runtime-abi.md) is identical.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_LIB_PIPELINES_COMMON_H
#define DSV3_LIB_PIPELINES_COMMON_H

namespace mlir {
class OpPassManager;
namespace dsv3 {

/// Bufferizes tensor functions into memref functions whose results are
/// out-params, the calling convention of docs/runtime-abi.md, and inserts
/// the deallocations of temporaries. With `loopScratchOnStack`, a static
/// buffer of at most `kHostRowScratchBytes` allocated inside an scf.forall
/// (a fused tile's intermediate, dsv3-host-tile-and-fuse-rows) becomes a
/// memref.alloca: a thread's scratch, not a heap allocation per iteration.
void addBufferization(OpPassManager &pm, bool loopScratchOnStack = false);

} // namespace dsv3
} // namespace mlir

#endif // DSV3_LIB_PIPELINES_COMMON_H
