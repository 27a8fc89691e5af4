//===- HoistTeamAllocas.cpp - one scratch buffer per OpenMP thread --------===//
//
// convert-scf-to-openmp puts each worksharing loop's body in an
// alloca_scope, which control-flow lowering cannot take inside an OpenMP
// loop, and an alloca in an scf.for body outside any scope takes more stack
// on every iteration. Strategy kernels use fixed-size allocas as scratch
// (the FP8 one-token tiles' widened weights): moved to the start of the
// enclosing omp.parallel region (one buffer per thread) or of the function,
// each is allocated once, and the emptied scopes fold away (Passes.td).
//
//===----------------------------------------------------------------------===//
#include "TeamAllocas.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTHOISTTEAMALLOCAS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Whether the buffer `v` (an alloca or a view of it) stays within the
/// dynamic execution that allocated it: it is only loaded from, stored to,
/// or viewed (and the views stay likewise).
bool staysLocal(Value v) {
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (isa<memref::LoadOp, vector::LoadOp, vector::TransferReadOp>(user))
      continue;
    if (auto store = dyn_cast<memref::StoreOp>(user);
        store && store.getMemRef() == v)
      continue;
    if (auto store = dyn_cast<vector::StoreOp>(user);
        store && store.getBase() == v)
      continue;
    if (auto write = dyn_cast<vector::TransferWriteOp>(user);
        write && write.getBase() == v)
      continue;
    auto view = dyn_cast<ViewLikeOpInterface>(user);
    if (!view || view.getViewSource() != v)
      return false;
    for (Value r : user->getResults())
      if (!staysLocal(r))
        return false;
  }
  return true;
}

/// Where `alloca` can go: the region of the omp.parallel or function around
/// it, provided that every op between runs its regions in order on the
/// thread that reaches it (so one buffer per thread or per call is enough).
/// Null across anything else: an scf.forall or scf.parallel (iterations may
/// run at once), a task, or an op isolated from above.
Region *homeOf(memref::AllocaOp alloca) {
  for (Operation *op = alloca->getParentOp(); op; op = op->getParentOp()) {
    if (isa<omp::ParallelOp, FunctionOpInterface>(op))
      return &op->getRegion(0);
    if (!isa<scf::ForOp, scf::IfOp, scf::WhileOp, scf::ExecuteRegionOp,
             memref::AllocaScopeOp, omp::WsloopOp, omp::LoopNestOp>(op))
      return nullptr;
  }
  return nullptr;
}

} // namespace

bool dsv3::host::isHoistableAlloca(memref::AllocaOp alloca) {
  return alloca->getNumOperands() == 0 && alloca.getType().hasStaticShape() &&
         staysLocal(alloca);
}

namespace {

struct Dsv3HostHoistTeamAllocasPass
    : dsv3::impl::Dsv3HostHoistTeamAllocasBase<Dsv3HostHoistTeamAllocasPass> {
  void runOnOperation() override {
    SmallVector<memref::AllocaOp> allocas;
    getOperation()->walk([&](memref::AllocaOp alloca) {
      if (dsv3::host::isHoistableAlloca(alloca))
        allocas.push_back(alloca);
    });
    for (memref::AllocaOp alloca : allocas) {
      Region *home = homeOf(alloca);
      if (!home || home->empty() || alloca->getParentRegion() == home)
        continue;
      alloca->moveBefore(&home->front(), home->front().begin());
    }
  }
};

} // namespace
