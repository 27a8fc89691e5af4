//===- TeamAllocas.h - allocas a team's body may hold ---*- C++ -*-===//
#ifndef DSV3_CODEGEN_HOST_TEAMALLOCAS_H
#define DSV3_CODEGEN_HOST_TEAMALLOCAS_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::dsv3::host {

/// Whether `alloca` is a fixed-size scratch buffer that
/// dsv3-host-hoist-team-allocas may make one per thread: a static shape, and
/// a buffer that stays in the execution that allocated it (it and its views
/// are only loaded from and stored to). One buffer for every execution is
/// then the same as a fresh one each time, since an alloca's contents start
/// undefined. dsv3-host-distribute-parallel-loops keeps a loop whose body
/// holds any other alloca off the team.
bool isHoistableAlloca(memref::AllocaOp alloca);

} // namespace mlir::dsv3::host

#endif // DSV3_CODEGEN_HOST_TEAMALLOCAS_H
