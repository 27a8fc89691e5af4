//===- HostOnlyBuffers.h - buffers that never reach a kernel ----*- C++ -*-===//
//
// In a cuda module the host code orchestrates kernels on device buffers, but
// one kind of buffer belongs to the host: the run-time alias check of the
// buffer deallocation pipeline. When a function returns buffers whose
// aliasing is unknown, the caller stores their addresses and ownership flags
// into small index and i1 buffers and calls a helper (`dealloc_helper`) that
// loops over them. Those buffers, and the loops over them, must stay on the
// host; everything a kernel may see goes to the device.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_CODEGEN_GPU_HOSTONLYBUFFERS_H
#define DSV3_CODEGEN_GPU_HOSTONLYBUFFERS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::dsv3 {

class HostOnlyBuffers {
public:
  /// Analyses the functions under `root` (a module, for calls to resolve).
  explicit HostOnlyBuffers(Operation *root);

  /// True when only the host touches the buffer `value` (an allocation or a
  /// function argument): every use, followed through views, casts and into
  /// callees, is host code that loads, stores, frees it, reads its sizes or
  /// takes its address, and some use loads or stores (a buffer nothing
  /// accesses is left to the device, as any other). A function argument must in
  /// addition belong to a private function whose every caller passes such a
  /// buffer: entry arguments are device memory. Code inside `scf.parallel`,
  /// `gpu.launch`, `gpu.module` or an op given to `setKernels` is device code.
  bool isHostOnly(Value value);

  /// The allocation or argument a view, cast or metadata extraction is of.
  static Value rootOf(Value value);

  /// Marks ops (and what they contain) as future kernels; forgets what was
  /// decided so far.
  void setKernels(const llvm::SmallPtrSetImpl<Operation *> &ops);

private:
  struct Verdict {
    bool hostOnly; // no use outside host code's loads, stores and the like
    bool accessed; // some use loads or stores
  };
  Verdict verdict(Value value);
  Verdict useVerdict(OpOperand &use);
  bool isHostOnlyArgument(BlockArgument arg);
  bool inKernel(Operation *op) const;

  llvm::DenseMap<func::FuncOp, SmallVector<func::CallOp>> callers;
  llvm::DenseMap<Value, Verdict> memo;
  llvm::SmallPtrSet<Operation *, 16> kernels;
};

} // namespace mlir::dsv3

#endif // DSV3_CODEGEN_GPU_HOSTONLYBUFFERS_H
