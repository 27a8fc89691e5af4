//===- HostAllocsToGPU.cpp - host temporaries in device memory ------------===//
//
// A cuda module's host code only orchestrates: it allocates temporaries,
// builds views and launches kernels on buffers that live on the device. See
// the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "HostOnlyBuffers.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTALLOCSTOGPU
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
struct Dsv3HostAllocsToGPUPass
    : dsv3::impl::Dsv3HostAllocsToGPUBase<Dsv3HostAllocsToGPUPass> {
  void runOnOperation() override {
    dsv3::HostOnlyBuffers hostOnly(getOperation());
    SmallVector<Operation *> allocs, deallocs;
    bool hostAccess = false;
    getOperation()->walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<gpu::LaunchOp, gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (isa<memref::AllocOp, memref::AllocaOp>(op)) {
        if (!hostOnly.isHostOnly(op->getResult(0)))
          allocs.push_back(op);
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        if (!hostOnly.isHostOnly(
                dsv3::HostOnlyBuffers::rootOf(dealloc.getMemref())))
          deallocs.push_back(op);
      } else if (isa<memref::LoadOp, memref::StoreOp>(op)) {
        Value memref = isa<memref::LoadOp>(op)
                           ? cast<memref::LoadOp>(op).getMemRef()
                           : cast<memref::StoreOp>(op).getMemRef();
        if (!hostOnly.isHostOnly(dsv3::HostOnlyBuffers::rootOf(memref))) {
          op->emitError("host code of a cuda module accesses device memory "
                        "(an op that was not mapped to a kernel)");
          hostAccess = true;
        }
      }
      return WalkResult::advance();
    });
    if (hostAccess)
      return signalPassFailure();

    IRRewriter rewriter(&getContext());
    for (Operation *op : allocs) {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      if (type.getMemorySpace()) {
        op->emitError("host temporary in a non-default memory space");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(op);
      bool isAlloca = isa<memref::AllocaOp>(op);
      auto alloc = gpu::AllocOp::create(
          rewriter, op->getLoc(), type, /*asyncToken=*/Type(),
          /*asyncDependencies=*/ValueRange{},
          /*dynamicSizes=*/
          op->getOperands().take_front(type.getNumDynamicDims()),
          /*symbolOperands=*/
          op->getOperands().drop_front(type.getNumDynamicDims()),
          /*hostShared=*/false);
      rewriter.replaceOp(op, alloc.getMemref());
      // An alloca dies with its scope; its uses cannot leave its block.
      if (isAlloca) {
        rewriter.setInsertionPoint(alloc->getBlock()->getTerminator());
        gpu::DeallocOp::create(rewriter, alloc.getLoc(), Type(), ValueRange{},
                               alloc.getMemref());
      }
    }
    for (Operation *op : deallocs) {
      rewriter.setInsertionPoint(op);
      gpu::DeallocOp::create(rewriter, op->getLoc(), /*asyncToken=*/Type(),
                             ValueRange{}, op->getOperand(0));
      rewriter.eraseOp(op);
    }
  }
};
} // namespace
