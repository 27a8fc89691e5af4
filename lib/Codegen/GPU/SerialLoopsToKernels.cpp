//===- SerialLoopsToKernels.cpp - serial host loops become 1-thread kernels ==//
//
// In a cuda module every memory access must happen in a kernel, and kernels
// come from scf.parallel loops. A linalg op whose parallel dimensions are all
// 1 (a reduction over one row: rms_norm of a single decode token, the max of
// one softmax row) lowers to a unit scf.parallel around a serial scf.for,
// and the canonicalizer folds the unit loop away, leaving the scf.for in host
// code. This pass puts such loops (and lone stores, e.g. the fill of a
// one-element accumulator) back into a one-iteration scf.parallel, so they
// become a kernel with one active thread: correct, if not fast. Loops and
// stores that only touch host-only buffers (the deallocation pipeline's
// run-time alias check, see HostOnlyBuffers.h) stay on the host.
//
//===----------------------------------------------------------------------===//

#include "HostOnlyBuffers.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3SERIALLOOPSTOKERNELS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// True if `op` or anything inside it reads or writes a memref element.
bool accessesMemory(Operation *op) {
  return op
      ->walk([](Operation *inner) {
        return isa<memref::LoadOp, memref::StoreOp>(inner)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

bool containsParallelLoop(Operation *op) {
  return op->walk([](scf::ParallelOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

/// True if `op` or anything inside it reads or writes a buffer that is not
/// host-only.
bool accessesDeviceMemory(Operation *op, dsv3::HostOnlyBuffers &hostOnly) {
  return op
      ->walk([&](Operation *inner) {
        Value memref;
        if (auto load = dyn_cast<memref::LoadOp>(inner))
          memref = load.getMemRef();
        else if (auto store = dyn_cast<memref::StoreOp>(inner))
          memref = store.getMemRef();
        return memref && !hostOnly.isHostOnly(
                             dsv3::HostOnlyBuffers::rootOf(memref))
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// True if no op strictly between `from` and `to` (same block) may write
/// memory.
bool noWritesBetween(Operation *from, Operation *to) {
  for (Operation *it = from->getNextNode(); it && it != to;
       it = it->getNextNode()) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(it);
    if (it->getNumRegions() != 0 || !effects ||
        effects.hasEffect<MemoryEffects::Write>())
      return false;
  }
  return true;
}

struct Dsv3SerialLoopsToKernelsPass
    : dsv3::impl::Dsv3SerialLoopsToKernelsBase<Dsv3SerialLoopsToKernelsPass> {
  void runOnOperation() override {
    SmallVector<Operation *> serial;
    getOperation()->walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (isa<scf::ParallelOp, gpu::LaunchOp, gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      // A loop with a parallel loop inside is a host-side sequence of
      // kernels; leave it (dsv3-host-allocs-to-gpu reports what remains).
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        if (accessesMemory(loop) && !containsParallelLoop(loop))
          serial.push_back(loop);
        return WalkResult::skip();
      }
      if (isa<memref::StoreOp>(op))
        serial.push_back(op);
      return WalkResult::advance();
    });
    // A buffer a kernel touches lives on the device, so every serial op that
    // touches it becomes a kernel too, which can make more buffers device
    // buffers: iterate until nothing changes.
    dsv3::HostOnlyBuffers hostOnly(getOperation());
    llvm::SmallPtrSet<Operation *, 16> kernels;
    for (bool changed = true; changed;) {
      changed = false;
      for (Operation *op : serial)
        if (!kernels.contains(op) && accessesDeviceMemory(op, hostOnly)) {
          kernels.insert(op);
          changed = true;
        }
      hostOnly.setKernels(kernels);
    }
    for (Operation *op : serial) {
      if (!kernels.contains(op))
        continue;
      // A store takes along the loads and pure ops in its block that only
      // feed it (e.g. the load of a one-element memref.copy).
      llvm::SetVector<Operation *> group;
      group.insert(op);
      for (size_t i = 0; i < group.size(); ++i) {
        for (Value v : group[i]->getOperands()) {
          Operation *def = v.getDefiningOp();
          if (!def || def->getBlock() != op->getBlock() ||
              group.contains(def) ||
              !(isa<memref::LoadOp>(def) || isPure(def)) ||
              def->getNumRegions() != 0 ||
              !llvm::all_of(def->getUsers(), [&](Operation *user) {
                return group.contains(user);
              }))
            continue;
          // The group moves down to the store: a load may not cross
          // anything that could write memory.
          if (isa<memref::LoadOp>(def) && !noWritesBetween(def, op))
            continue;
          group.insert(def);
        }
      }
      SmallVector<Operation *> ordered(group.begin(), group.end());
      llvm::sort(ordered, [](Operation *a, Operation *b) {
        return a->isBeforeInBlock(b);
      });
      OpBuilder b(op);
      Location loc = op->getLoc();
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      auto par = scf::ParallelOp::create(b, loc, ValueRange{zero},
                                         ValueRange{one}, ValueRange{one});
      for (Operation *moved : ordered)
        moved->moveBefore(par.getBody()->getTerminator());
    }
  }
};

} // namespace
