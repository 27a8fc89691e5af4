//===- MarkGlueFunctions.cpp - compile call-only functions unoptimized ----===//
//
// An imported model's entries are straight-line code around calls:
// embedding, one call per layer, head (plus branches, e.g. freeing a buffer
// only if it was allocated). Each call passes that layer's weights and
// caches, every memref expanded into its descriptor's scalars, so a 61-layer
// entry is a basic block with ~100k values. Selection DAG instruction selection
// is superlinear in the size of a block: at -O3 such an entry took minutes
// (V3, 61 layers: 340 s of a 345 s compile), while nothing in it loops.
// `optnone` makes LLVM select it with FastISel, linear in its size.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3MARKGLUEFUNCTIONS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
// Whether the blocks of `body` branch back to one another (a loop): depth
// first over successors, a successor still on the stack closes a cycle.
bool hasCycle(Region &body) {
  enum class Mark { New, Open, Done };
  llvm::DenseMap<Block *, Mark> marks;
  SmallVector<std::pair<Block *, unsigned>> stack;
  stack.push_back({&body.front(), 0});
  marks[&body.front()] = Mark::Open;
  while (!stack.empty()) {
    auto &[block, next] = stack.back();
    if (next == block->getNumSuccessors()) {
      marks[block] = Mark::Done;
      stack.pop_back();
      continue;
    }
    Block *succ = block->getSuccessor(next++);
    Mark &m = marks[succ];
    if (m == Mark::Open)
      return true;
    if (m == Mark::New) {
      m = Mark::Open;
      stack.push_back({succ, 0});
    }
  }
  return false;
}

struct Dsv3MarkGlueFunctionsPass
    : dsv3::impl::Dsv3MarkGlueFunctionsBase<Dsv3MarkGlueFunctionsPass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    for (auto f : getOperation().getOps<LLVM::LLVMFuncOp>()) {
      if (f.isExternal() || hasCycle(f.getBody()))
        continue;
      // Loops of an OpenMP team live in nested regions (omp.parallel); the
      // functions LLVM outlines from them inherit optnone.
      bool nested = f.getBody()
                        .walk([](Operation *op) {
                          return op->getNumRegions() ? WalkResult::interrupt()
                                                     : WalkResult::advance();
                        })
                        .wasInterrupted();
      if (nested)
        continue;
      int64_t calls = 0;
      // Direct calls only: a function that calls through a pointer (the
      // module allocator's) is a leaf that the -O3 code calls.
      f.walk([&](LLVM::CallOp call) { calls += bool(call.getCallee()); });
      if (calls < minCalls)
        continue;
      SmallVector<Attribute> passthrough;
      if (auto existing = f.getPassthroughAttr())
        passthrough.append(existing.begin(), existing.end());
      // optnone requires noinline.
      for (StringRef a : {"noinline", "optnone"})
        passthrough.push_back(StringAttr::get(ctx, a));
      f.setPassthroughAttr(ArrayAttr::get(ctx, passthrough));
    }
  }
};
} // namespace
