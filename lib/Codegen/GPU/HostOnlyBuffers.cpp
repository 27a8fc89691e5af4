//===- HostOnlyBuffers.cpp - buffers that never reach a kernel ------------===//
#include "HostOnlyBuffers.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;
using namespace mlir::dsv3;

HostOnlyBuffers::HostOnlyBuffers(Operation *root) {
  root->walk([&](func::CallOp call) {
    if (auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
            call, call.getCalleeAttr()))
      callers[callee].push_back(call);
  });
}

void HostOnlyBuffers::setKernels(
    const llvm::SmallPtrSetImpl<Operation *> &ops) {
  kernels.clear();
  kernels.insert(ops.begin(), ops.end());
  memo.clear();
}

bool HostOnlyBuffers::inKernel(Operation *op) const {
  for (; op; op = op->getParentOp())
    if (isa<scf::ParallelOp, gpu::LaunchOp, gpu::GPUModuleOp>(op) ||
        kernels.contains(op))
      return true;
  return false;
}

Value HostOnlyBuffers::rootOf(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      value = view.getViewSource();
    else if (auto meta = dyn_cast<memref::ExtractStridedMetadataOp>(def))
      value = meta.getSource();
    else
      break;
  }
  return value;
}

bool HostOnlyBuffers::isHostOnly(Value value) {
  Verdict v = verdict(value);
  return v.hostOnly && v.accessed;
}

HostOnlyBuffers::Verdict HostOnlyBuffers::verdict(Value value) {
  auto it = memo.find(value);
  if (it != memo.end())
    return it->second;
  // Assumed while visiting, so that recursion through calls terminates.
  memo[value] = {true, false};
  Verdict result{true, false};
  for (OpOperand &use : value.getUses()) {
    Verdict u = useVerdict(use);
    result.hostOnly &= u.hostOnly;
    result.accessed |= u.accessed;
    if (!result.hostOnly)
      break;
  }
  if (result.hostOnly)
    if (auto arg = dyn_cast<BlockArgument>(value))
      result.hostOnly = isHostOnlyArgument(arg);
  memo[value] = result;
  return result;
}

bool HostOnlyBuffers::isHostOnlyArgument(BlockArgument arg) {
  auto fn = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
  if (!fn || !arg.getOwner()->isEntryBlock() || fn.isPublic())
    return false;
  auto it = callers.find(fn);
  if (it == callers.end())
    return false;
  return llvm::all_of(it->second, [&](func::CallOp call) {
    return verdict(rootOf(call.getArgOperands()[arg.getArgNumber()])).hostOnly;
  });
}

HostOnlyBuffers::Verdict HostOnlyBuffers::useVerdict(OpOperand &use) {
  Operation *user = use.getOwner();
  Verdict no{false, false};
  if (inKernel(user))
    return no;
  if (isa<memref::LoadOp>(user))
    return {true, true};
  if (auto store = dyn_cast<memref::StoreOp>(user))
    return use.get() == store.getMemRef() ? Verdict{true, true} : no;
  if (isa<memref::DeallocOp, memref::DimOp,
          memref::ExtractAlignedPointerAsIndexOp>(user))
    return {true, false};
  auto all = [&](ValueRange values) {
    Verdict v{true, false};
    for (Value r : values) {
      Verdict u = verdict(r);
      v.hostOnly &= u.hostOnly;
      v.accessed |= u.accessed;
    }
    return v;
  };
  if (auto view = dyn_cast<ViewLikeOpInterface>(user))
    return view.getViewSource() == use.get() ? all(user->getResults()) : no;
  if (auto meta = dyn_cast<memref::ExtractStridedMetadataOp>(user))
    return all(meta.getBaseBuffer());
  if (auto call = dyn_cast<func::CallOp>(user)) {
    auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
        call, call.getCalleeAttr());
    if (!callee || callee.isExternal())
      return no;
    return verdict(callee.getArgument(use.getOperandNumber()));
  }
  return no;
}
