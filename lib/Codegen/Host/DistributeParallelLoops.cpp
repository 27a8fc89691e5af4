//===- DistributeParallelLoops.cpp - which scf.parallel runs on threads ---===//
//
// The host runs parallel loops on an OpenMP team (convert-scf-to-openmp and
// LLVM's libomp). This pass decides which loops those are: one team per op,
// so only the outermost scf.parallel of a nest is kept, and only when its
// body is safe to run on worker threads. Everything else becomes an scf.for
// nest here. See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "TeamAllocas.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "dsv3-host-distribute-parallel-loops"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTDISTRIBUTEPARALLELLOOPS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

std::optional<int64_t> staticTrips(scf::ParallelOp loop, unsigned d) {
  std::optional<int64_t> l = getConstantIntValue(loop.getLowerBound()[d]),
                         u = getConstantIntValue(loop.getUpperBound()[d]),
                         s = getConstantIntValue(loop.getStep()[d]);
  if (!l || !u || !s || *s <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, llvm::divideCeilSigned(*u - *l, *s));
}

/// The dimension a team splits: the outermost one not statically of one
/// iteration ([1, N] ops split N). Splitting one dimension keeps each
/// thread's inner loops plain counted loops that LLVM vectorizes (OpenMP's
/// collapse would divide the linear index in every iteration).
std::optional<unsigned> teamDim(scf::ParallelOp loop) {
  for (unsigned d = 0; d < loop.getNumLoops(); ++d)
    if (staticTrips(loop, d) != 1)
      return d;
  return std::nullopt;
}

/// Why `loop` must run on the calling thread, or null when it may run on a
/// team. The module's allocator belongs to the call's thread (an allocation
/// failure unwinds that thread), calls may allocate, and an alloca inside
/// the team's body would keep an alloca scope that control-flow lowering
/// cannot take, except a fixed-size one: dsv3-host-hoist-team-allocas makes
/// that one buffer per thread.
const char *mustStaySerial(scf::ParallelOp loop) {
  if (loop.getNumReductions() != 0)
    return "it has reductions";
  const char *why = nullptr;
  loop.getBody()->walk([&](Operation *op) {
    auto alloca = dyn_cast<memref::AllocaOp>(op);
    if (isa<memref::AllocOp, memref::ReallocOp, memref::DeallocOp>(op))
      why = "its body allocates";
    else if (alloca && !dsv3::host::isHoistableAlloca(alloca))
      why = "its body has an alloca that is not a fixed-size scratch buffer";
    else if (isa<CallOpInterface>(op))
      why = "its body calls a function";
    return why ? WalkResult::interrupt() : WalkResult::advance();
  });
  if (why)
    return why;
  std::optional<unsigned> d = teamDim(loop);
  // A dynamic trip count is the team's to split at run time.
  if (!d || staticTrips(loop, *d).value_or(2) < 2)
    return "it has fewer than 2 iterations to split";
  return nullptr;
}

/// A reduction-free scf.parallel as the scf.for nest that runs its
/// iterations in order (upstream's rewrite).
void serialize(RewriterBase &rewriter, scf::ParallelOp loop) {
  rewriter.setInsertionPoint(loop);
  // Succeeds on any loop without reductions, the only ones passed here.
  (void)scf::parallelForToNestedFors(rewriter, loop);
}

/// Makes `loop` a team over its dimension `d` alone. The dimensions before
/// `d` have one iteration (teamDim) and take their lower bound; those after
/// it become scf.for loops inside each iteration.
void splitTeam(RewriterBase &rewriter, scf::ParallelOp loop, unsigned d) {
  rewriter.setInsertionPoint(loop);
  SmallVector<Value> ivs = loop.getInductionVars();
  auto lbs = loop.getLowerBound(), ubs = loop.getUpperBound(),
       steps = loop.getStep();
  IRMapping map;
  for (unsigned i = 0; i < d; ++i)
    map.map(ivs[i], lbs[i]);
  auto cloneBody = [&](OpBuilder &b) {
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, map);
  };
  scf::ParallelOp inner;
  scf::ParallelOp::create(rewriter, loop.getLoc(), lbs[d], ubs[d], steps[d],
                          [&](OpBuilder &b, Location loc, ValueRange iv) {
                            map.map(ivs[d], iv[0]);
                            if (d + 1 == ivs.size())
                              return cloneBody(b);
                            inner = scf::ParallelOp::create(
                                b, loc, lbs.drop_front(d + 1),
                                ubs.drop_front(d + 1), steps.drop_front(d + 1),
                                [&](OpBuilder &b, Location, ValueRange rest) {
                                  map.map(ArrayRef(ivs).drop_front(d + 1),
                                          rest);
                                  cloneBody(b);
                                });
                          });
  rewriter.eraseOp(loop);
  if (inner)
    serialize(rewriter, inner);
}

struct Dsv3HostDistributeParallelLoopsPass
    : dsv3::impl::Dsv3HostDistributeParallelLoopsBase<
          Dsv3HostDistributeParallelLoopsPass> {
  void runOnOperation() override {
    // Loops to rewrite: serialized (no dimension), or a team over one.
    SmallVector<std::pair<scf::ParallelOp, std::optional<unsigned>>> work;
    getOperation()->walk<WalkOrder::PreOrder>([&](scf::ParallelOp loop) {
      if (const char *why = mustStaySerial(loop)) {
        LLVM_DEBUG(llvm::dbgs()
                   << "serial (" << why << "): " << loop.getLoc() << "\n");
        (void)why;
        // Not a team: its nested loops get their own chance.
        if (loop.getNumReductions() == 0)
          work.push_back({loop, std::nullopt});
        return WalkResult::advance();
      }
      // A team: every parallel loop inside it runs on the thread that runs
      // the iteration.
      if (loop.getNumLoops() > 1)
        work.push_back({loop, teamDim(loop)});
      loop.getBody()->walk<WalkOrder::PreOrder>([&](scf::ParallelOp inner) {
        if (inner.getNumReductions() == 0)
          work.push_back({inner, std::nullopt});
      });
      return WalkResult::skip();
    });
    IRRewriter rewriter(&getContext());
    // Pre-order reversed: innermost first, so that a rewritten loop clones
    // bodies that are already rewritten (and no loop is rewritten after the
    // one around it erased it).
    for (auto [loop, dim] : llvm::reverse(work)) {
      if (dim)
        splitTeam(rewriter, loop, *dim);
      else
        serialize(rewriter, loop);
    }
  }
};
} // namespace
