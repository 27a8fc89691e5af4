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

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTHOISTTEAMALLOCAS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Whether the buffer `v` (an alloca or a view of it) stays within the
/// dynamic execution that allocated it.
bool staysLocal(Value v) {
  for (Operation *user : v.getUsers()) {
    if (user->hasTrait<OpTrait::IsTerminator>() || isa<CallOpInterface>(user))
      return false;
    if (auto view = dyn_cast<ViewLikeOpInterface>(user))
      if (view.getViewSource() == v)
        for (Value r : user->getResults())
          if (!staysLocal(r))
            return false;
  }
  return true;
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
      Region *home = nullptr;
      if (auto team = alloca->getParentOfType<omp::ParallelOp>())
        home = &team.getRegion();
      else if (auto func = alloca->getParentOfType<FunctionOpInterface>())
        home = &func.getFunctionBody();
      if (!home || home->empty() || alloca->getParentRegion() == home)
        continue;
      alloca->moveBefore(&home->front(), home->front().begin());
    }
  }
};

} // namespace
