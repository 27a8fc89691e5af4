//===- TeamAllocas.h - allocas a team's body may hold ------------*- C++
//-*-===//
#ifndef DSV3_CODEGEN_HOST_TEAMALLOCAS_H
#define DSV3_CODEGEN_HOST_TEAMALLOCAS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::dsv3::host {

/// Whether dsv3-host-hoist-team-allocas moves `alloca` to the start of its
/// team or function: a static shape, and a buffer that stays in the
/// execution that allocated it (no terminator carries it, or a view of it,
/// out of its region, and no call receives it). One buffer for every
/// execution is then the same as a fresh one each time, since an alloca's
/// contents start undefined. dsv3-host-distribute-parallel-loops keeps a
/// loop whose body holds other allocas off the team.
bool isHoistableAlloca(memref::AllocaOp alloca);

} // namespace mlir::dsv3::host

#endif // DSV3_CODEGEN_HOST_TEAMALLOCAS_H
