//===- TileAndFuseRows.cpp - definitions' linalg chains, tiled by rows ----===//
//
// What the strategy kernels do not take keeps its definition: chains of
// linalg ops (RMSNorm's sum of squares and scaling, softmax, RoPE, SwiGLU,
// dtype casts). Left alone, each op is one OpenMP team that writes its whole
// result to memory for the next op to read back. This pass tiles the last op
// of each chain by rows through upstream TilingInterface
// (scf::tileConsumerAndFuseProducersUsingSCF, as IREE's CPU tile-and-fuse)
// and fuses the chain's producers into the tile, so one team runs the chain
// and a row's intermediates stay in cache. See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/TilingInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTTILEANDFUSEROWS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

/// Whether every operand of `op` is indexed by loops and constants alone
/// (elementwise ops, reductions, transposes, broadcasts, contractions, RoPE's
/// pairs at constant offsets: every op the definitions build), so that a
/// tile of loops is a plain slice of each operand.
bool indexedByLoops(linalg::LinalgOp op) {
  return llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
    return llvm::all_of(map.getResults(), [](AffineExpr e) {
      return isa<AffineDimExpr, AffineConstantExpr>(e);
    });
  });
}

/// An op of a definition: a linalg op on tensors indexed by its loops, not
/// inside a kernel's loops (the strategies' scf.forall) or another op's
/// region.
bool isDefinitionOp(Operation *op) {
  auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
  return linalgOp && isa<TilingInterface>(op) &&
         linalgOp.hasPureTensorSemantics() && indexedByLoops(linalgOp) &&
         isa<FunctionOpInterface>(op->getParentOp());
}

/// Whether `op` has a loop of statically zero iterations (no tokens, no
/// routed rows): it computes nothing, and upstream's tile-size computation
/// does not take an empty untiled loop.
bool hasEmptyLoop(linalg::LinalgOp op) {
  return llvm::is_contained(op.getStaticLoopRanges(), 0);
}

/// The loop a chain ending in `op` is tiled on: its outermost parallel loop
/// that is not statically of one iteration, unless that is its innermost
/// loop (a row itself: the team splits it, as before this pass).
std::optional<unsigned> rowLoop(linalg::LinalgOp op) {
  if (hasEmptyLoop(op))
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  for (unsigned d = 0; d < ranges.size(); ++d) {
    if (iterators[d] != utils::IteratorType::parallel || ranges[d] == 1)
      continue;
    if (d + 1 == ranges.size())
      return std::nullopt;
    return d;
  }
  return std::nullopt;
}

/// Producers of `root` that may join its tile: linalg ops of a definition in
/// its block whose every result has one use, by the root or by another such
/// producer, so fusing computes each of their elements once and leaves
/// nothing of them behind.
llvm::SmallPtrSet<Operation *, 8> fusableProducers(Operation *root) {
  llvm::SmallPtrSet<Operation *, 8> chain = {root};
  SmallVector<Operation *> work = {root};
  while (!work.empty()) {
    Operation *consumer = work.pop_back_val();
    for (Value operand : consumer->getOperands()) {
      Operation *p = operand.getDefiningOp();
      if (!p || chain.contains(p) || p->getBlock() != root->getBlock() ||
          !isDefinitionOp(p) || hasEmptyLoop(cast<linalg::LinalgOp>(p)))
        continue;
      bool onlyHere = llvm::all_of(p->getResults(), [&](OpResult r) {
        return r.hasOneUse() && chain.contains(*r.getUsers().begin());
      });
      if (!onlyHere)
        continue;
      chain.insert(p);
      work.push_back(p);
    }
  }
  chain.erase(root);
  return chain;
}

/// Whether `v` is computed from `iv` (through the index arithmetic that
/// tiling creates in the loop body).
bool dependsOn(Value v, Value iv, int depth = 0) {
  if (v == iv)
    return true;
  Operation *def = v.getDefiningOp();
  if (!def || depth > 8)
    return false;
  return llvm::any_of(def->getOperands(), [&](Value operand) {
    return dependsOn(operand, iv, depth + 1);
  });
}

/// Whether the producer tile that `slice` asks for is a row of the
/// producer's own (it moves with the loop: a broadcast operand would be
/// computed again for every row) and small enough to be a thread's scratch
/// (a static alloc after bufferization, which the pipeline promotes to the
/// stack; 64 KiB keeps a team's per-thread scratch within L2).
bool isRowTile(tensor::ExtractSliceOp slice) {
  auto loop = slice->getParentOfType<scf::ForallOp>();
  if (!loop)
    return false;
  RankedTensorType type = slice.getType();
  if (!type.hasStaticShape() ||
      type.getNumElements() *
              llvm::divideCeil(type.getElementTypeBitWidth(), 8) >
          dsv3::kHostRowScratchBytes)
    return false;
  SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
  return llvm::all_of(loop.getInductionVars(), [&](Value iv) {
    return llvm::any_of(offsets, [&](OpFoldResult o) {
      auto v = dyn_cast<Value>(o);
      return v && dependsOn(v, iv);
    });
  });
}

/// Tiles `root` on loop `row` and fuses what it may; returns the ops erased
/// (the root and its fused producers).
FailureOr<SmallVector<Operation *>>
tileChain(RewriterBase &rewriter, linalg::LinalgOp root, unsigned row) {
  llvm::SmallPtrSet<Operation *, 8> producers = fusableProducers(root);
  SmallVector<OpFoldResult> tileSizes(root.getNumLoops(),
                                      rewriter.getIndexAttr(0));
  tileSizes[row] = rewriter.getIndexAttr(1);
  scf::SCFTilingOptions tiling;
  tiling.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp)
      .setTileSizes(tileSizes);
  scf::SCFTileAndFuseOptions options;
  options.setTilingOptions(tiling);
  options.setFusionControlFn(
      [&](tensor::ExtractSliceOp slice, OpResult producer,
          bool) -> std::optional<scf::SCFTileAndFuseOptions::ControlFnResult> {
        if (!producers.contains(producer.getOwner()) || !isRowTile(slice))
          return std::nullopt;
        return scf::SCFTileAndFuseOptions::ControlFnResult{};
      });
  rewriter.setInsertionPoint(root);
  FailureOr<scf::SCFTileAndFuseResult> tiled =
      scf::tileConsumerAndFuseProducersUsingSCF(
          rewriter, cast<TilingInterface>(root.getOperation()), options);
  if (failed(tiled))
    return failure();
  for (OpResult result : root->getResults())
    rewriter.replaceAllUsesWith(result, tiled->replacements.lookup(result));
  // The loop's bounds are tensor.dims of the chain's values; upstream's
  // reification takes each to the shape of what stays outside the loop (a
  // destination op's init), so the fused producers are left unused.
  SmallVector<Operation *> dims;
  for (Operation *op : tiled->fusedProducers)
    for (Operation *user : op->getUsers())
      if (isa<tensor::DimOp>(user))
        dims.push_back(user);
  if (!dims.empty()) {
    RewritePatternSet patterns(root->getContext());
    memref::populateResolveRankedShapedTypeResultDimsPatterns(patterns);
    (void)applyOpPatternsGreedily(dims, std::move(patterns));
  }
  SmallVector<Operation *> erased = {root};
  rewriter.eraseOp(root);
  // The fused producers' only uses were in the chain, now inside the loop:
  // erase users before their producers.
  SmallVector<Operation *> dead(tiled->fusedProducers.begin(),
                                tiled->fusedProducers.end());
  for (bool progress = true; progress;) {
    progress = false;
    for (Operation *&op : dead)
      if (op && op->use_empty()) {
        erased.push_back(op);
        rewriter.eraseOp(op);
        op = nullptr;
        progress = true;
      }
  }
  return erased;
}

struct Dsv3HostTileAndFuseRowsPass
    : dsv3::impl::Dsv3HostTileAndFuseRowsBase<Dsv3HostTileAndFuseRowsPass> {
  void runOnOperation() override {
    // Chains end where a value leaves linalg (a kernel, a reshape, a
    // return) or is used twice; walking backwards, each op not yet fused
    // into a later one ends a chain.
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isDefinitionOp(op))
        ops.push_back(op);
    });
    llvm::SmallPtrSet<Operation *, 16> gone;
    IRRewriter rewriter(&getContext());
    for (Operation *op : llvm::reverse(ops)) {
      // A fill (a reduction's zero) only joins the op it initializes.
      if (gone.contains(op) || isa<linalg::FillOp>(op))
        continue;
      auto root = cast<linalg::LinalgOp>(op);
      std::optional<unsigned> row = rowLoop(root);
      if (!row)
        continue;
      // Tiling a parallel loop of a linalg op does not fail; were it to,
      // the op keeps its definition.
      FailureOr<SmallVector<Operation *>> erased =
          tileChain(rewriter, root, *row);
      if (succeeded(erased))
        gone.insert(erased->begin(), erased->end());
    }
    // A fused producer's init is a slice of a tensor.empty: an empty tile
    // of the row's size, so bufferization gives each thread its own buffer.
    RewritePatternSet patterns(&getContext());
    tensor::populateFoldTensorEmptyPatterns(patterns);
    (void)applyPatternsGreedily(getOperation(), std::move(patterns));
  }
};

} // namespace
