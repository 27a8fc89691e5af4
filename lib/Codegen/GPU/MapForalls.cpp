//===- MapForalls.cpp - block/thread scf.forall nests -> gpu.launch -------===//
//
// Strategies write kernels as bufferized scf.forall nests: an outer forall
// mapped to #gpu.block, holding thread-mapped foralls that run one after
// another (phases). This pass gives each block forall a gpu.launch: the
// grid is its trip counts, the block the largest extent each thread
// dimension takes in any phase. Its ids become gpu.block_id, its shared
// buffers (memref.alloc in the workgroup address space) workgroup
// attributions of the launch, and upstream's thread mapping (the one behind
// transform.gpu.map_nested_forall_to_threads) predicates each phase to its
// extent and puts a gpu.barrier after it.
//
//===----------------------------------------------------------------------===//

#include "ForallKernels.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/TransformOps/GPUTransformOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUMAPFORALLS
#define GEN_PASS_DEF_DSV3GPUSERIALIZETHREADS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;

namespace {

constexpr int64_t kWarpSize = 32;
/// The largest grid extent in y and z.
constexpr int64_t kMaxGridYZ = 65535;

bool hasMapping(scf::ForallOp forall, function_ref<bool(Attribute)> pred) {
  std::optional<ArrayAttr> mapping = forall.getMapping();
  return mapping && !mapping->empty() && llvm::all_of(*mapping, pred);
}

bool isBlockForall(scf::ForallOp forall) {
  return hasMapping(forall, llvm::IsaPred<gpu::GPUBlockMappingAttr>);
}

bool isThreadForall(scf::ForallOp forall) {
  return hasMapping(forall, llvm::IsaPred<gpu::GPUThreadMappingAttr>);
}

bool isWorkgroupAlloc(memref::AllocOp alloc) {
  auto space =
      dyn_cast_or_null<gpu::AddressSpaceAttr>(alloc.getType().getMemorySpace());
  return space && space.getValue() == gpu::AddressSpace::Workgroup;
}

/// Static trip counts of a normalized forall (lower bound 0, step 1).
FailureOr<SmallVector<int64_t>> staticExtents(scf::ForallOp forall) {
  SmallVector<int64_t> extents;
  for (auto [lb, ub, step] :
       llvm::zip(forall.getMixedLowerBound(), forall.getMixedUpperBound(),
                 forall.getMixedStep())) {
    std::optional<int64_t> l = getConstantIntValue(lb),
                           u = getConstantIntValue(ub),
                           s = getConstantIntValue(step);
    if (!l || !u || !s || *l != 0 || *s != 1)
      return failure();
    extents.push_back(*u);
  }
  return extents;
}

/// Whether `vec` accesses `memref` as a 1-D in-bounds unmasked transfer along
/// a unit-stride last dimension, which a vector.load or vector.store does.
bool isPlainTransfer(VectorTransferOpInterface xfer, MemRefType memref,
                     VectorType vec) {
  return memref && vec.getRank() == 1 && !xfer.getMask() &&
         xfer.getPermutationMap().isMinorIdentity() && xfer.isDimInBounds(0) &&
         memref.isLastDimUnitStride() && memref.getElementType().isIntOrFloat();
}

/// In-bounds 1-D vector reads and writes along a unit-stride last dimension
/// become `vector.load`s and `vector.store`s, which NVVM lowering takes on
/// any strided layout, with the alignment that is provable (16-byte global
/// loads, `ld.global.v4`; 8 FP8 codes in one 8-byte load; the element
/// type's alignment is all the lowering would assume otherwise).
void lowerVectorTransfers(RewriterBase &rewriter, gpu::LaunchOp launch) {
  SmallVector<VectorTransferOpInterface> xfers;
  launch.getBody().walk([&](VectorTransferOpInterface xfer) {
    if (isa<vector::TransferReadOp, vector::TransferWriteOp>(xfer))
      xfers.push_back(xfer);
  });
  for (VectorTransferOpInterface xfer : xfers) {
    auto memref = dyn_cast<MemRefType>(xfer.getBase().getType());
    VectorType vec = xfer.getVectorType();
    if (!isPlainTransfer(xfer, memref, vec))
      continue;
    SmallVector<Value> indices(xfer.getIndices());
    llvm::MaybeAlign align = accessAlignment(xfer.getBase(), vec, indices);
    rewriter.setInsertionPoint(xfer);
    if (auto read = dyn_cast<vector::TransferReadOp>(xfer.getOperation()))
      rewriter.replaceOpWithNewOp<vector::LoadOp>(
          read, vec, read.getBase(), indices, /*nontemporal=*/false, align);
    else if (auto write =
                 dyn_cast<vector::TransferWriteOp>(xfer.getOperation()))
      rewriter.replaceOpWithNewOp<vector::StoreOp>(
          write, write.getVector(), write.getBase(), indices,
          /*nontemporal=*/false, align);
  }
}

LogicalResult mapBlockForall(RewriterBase &rewriter, scf::ForallOp forall) {
  if (forall.getNumResults() != 0)
    return forall.emitOpError("maps to a gpu.launch only once bufferized");
  // Grid dims by mapping id (a forall may list y before x); a dynamic trip
  // count (a prompt's token tiles) is a value of the host code.
  SmallVector<OpFoldResult> grid(3, rewriter.getIndexAttr(1));
  SmallVector<gpu::Dimension> blockIds;
  if (forall.getRank() > 3 ||
      !llvm::all_of(forall.getMixedLowerBound(), isZeroInteger) ||
      !llvm::all_of(forall.getMixedStep(), isOneInteger))
    return forall.emitOpError(
        "maps to blocks only with normalized bounds in at most 3 dimensions");
  for (auto [extent, attr] :
       llvm::zip(forall.getMixedUpperBound(), *forall.getMapping())) {
    int64_t id = cast<gpu::GPUBlockMappingAttr>(attr).getMappingId();
    if (id > 2 || llvm::is_contained(blockIds, static_cast<gpu::Dimension>(id)))
      return forall.emitOpError(
          "maps to blocks x, y and z only, each at most once");
    std::optional<int64_t> c = getConstantIntValue(extent);
    if (id > 0 && (!c || *c > kMaxGridYZ))
      return forall.emitOpError("maps only a static count of at most ")
             << kMaxGridYZ << " blocks to y and z";
    grid[id] = extent;
    blockIds.push_back(static_cast<gpu::Dimension>(id));
  }
  // Block dims: the largest extent of each thread dimension in any phase.
  SmallVector<int64_t> blockDims = {1, 1, 1};
  WalkResult walk = forall.getBody()->walk([&](scf::ForallOp inner) {
    if (!isThreadForall(inner))
      return WalkResult::advance();
    FailureOr<SmallVector<int64_t>> extents = staticExtents(inner);
    if (failed(extents)) {
      inner.emitOpError("maps to threads only with static, normalized bounds");
      return WalkResult::interrupt();
    }
    for (auto [extent, attr] : llvm::zip(*extents, *inner.getMapping())) {
      int64_t dim = cast<gpu::GPUThreadMappingAttr>(attr).getMappingId();
      if (dim > 2) {
        inner.emitOpError("maps to threads x, y and z only");
        return WalkResult::interrupt();
      }
      blockDims[dim] = std::max(blockDims[dim], extent);
    }
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  // Warp foralls (a warp's collective code, e.g. tensor-core products) take
  // the block's threads in linear order, 32 per warp: a block of one
  // dimension grows to hold them; a 2-D or 3-D one must already.
  WalkResult warps = forall.getBody()->walk([&](scf::ForallOp inner) {
    if (!isWarpForall(inner))
      return WalkResult::advance();
    FailureOr<SmallVector<int64_t>> extents = staticExtents(inner);
    if (failed(extents)) {
      inner.emitOpError("maps to warps only with static, normalized bounds");
      return WalkResult::interrupt();
    }
    int64_t count = 1;
    for (int64_t e : *extents)
      count *= e;
    if (blockDims[1] == 1 && blockDims[2] == 1)
      blockDims[0] = std::max(blockDims[0], count * kWarpSize);
    const int64_t threads = blockDims[0] * blockDims[1] * blockDims[2];
    if (threads % kWarpSize != 0 || count * kWarpSize > threads) {
      inner.emitOpError("maps ")
          << count << " warps to a block of " << threads
          << " threads (whole warps of " << kWarpSize << " needed)";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (warps.wasInterrupted())
    return failure();

  Location loc = forall.getLoc();
  rewriter.setInsertionPoint(forall);
  SmallVector<memref::AllocOp> shared;
  for (auto alloc : forall.getBody()->getOps<memref::AllocOp>())
    if (isWorkgroupAlloc(alloc))
      shared.push_back(alloc);
  // Shared buffers live as long as the block: one allocated deeper (in a
  // branch or a thread) would have no lowering.
  WalkResult nested = forall.getBody()->walk([&](memref::AllocOp alloc) {
    if (isWorkgroupAlloc(alloc) && alloc->getBlock() != forall.getBody()) {
      alloc.emitOpError("shared memory must be allocated at the top level of "
                        "the block forall");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (nested.wasInterrupted())
    return failure();
  SmallVector<Type> sharedTypes;
  for (memref::AllocOp alloc : shared) {
    if (!alloc.getType().hasStaticShape())
      return alloc.emitOpError("shared memory must have a static shape");
    sharedTypes.push_back(alloc.getType());
  }
  auto dim = [&](ArrayRef<int64_t> dims, unsigned i) -> Value {
    return arith::ConstantIndexOp::create(rewriter, loc, dims[i]);
  };
  auto gridDim = [&](unsigned i) {
    return getValueOrCreateConstantIndexOp(rewriter, loc, grid[i]);
  };
  auto launch = gpu::LaunchOp::create(
      rewriter, loc, gridDim(0), gridDim(1), gridDim(2), dim(blockDims, 0),
      dim(blockDims, 1), dim(blockDims, 2),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/ValueRange{}, sharedTypes);
  // The strategy's cost of one launch, for dsv3-gpu-kernel-costs.
  if (Attribute cost = forall->getAttr(gpu_kernels::kKernelCostAttr))
    launch->setAttr(gpu_kernels::kKernelCostAttr, cost);
  Block &body = launch.getBody().front();
  rewriter.setInsertionPointToStart(&body);
  SmallVector<Value> ids;
  for (gpu::Dimension id : blockIds)
    ids.push_back(gpu::BlockIdOp::create(rewriter, loc, id));
  // The forall's body without its (empty) in_parallel terminator.
  rewriter.eraseOp(forall.getTerminator());
  Block *forallBody = forall.getBody();
  auto terminator = gpu::TerminatorOp::create(rewriter, loc);
  rewriter.inlineBlockBefore(forallBody, terminator, ids);
  rewriter.eraseOp(forall);
  for (auto [alloc, attribution] :
       llvm::zip(shared, launch.getWorkgroupAttributions())) {
    for (Operation *user : llvm::make_early_inc_range(alloc->getUsers()))
      if (isa<memref::DeallocOp>(user))
        rewriter.eraseOp(user);
    rewriter.replaceOp(alloc, attribution);
  }
  rewriter.setInsertionPointToStart(&body);
  DiagnosedSilenceableFailure mapped =
      transform::gpu::mapNestedForallToThreadsImpl(
          rewriter, std::nullopt, launch, blockDims, kWarpSize,
          /*syncAfterDistribute=*/true);
  if (!mapped.succeeded())
    return launch.emitOpError("could not map the thread foralls");
  lowerVectorTransfers(rewriter, launch);
  return success();
}

struct Dsv3GPUMapForalls
    : dsv3::impl::Dsv3GPUMapForallsBase<Dsv3GPUMapForalls> {
  void runOnOperation() override {
    SmallVector<scf::ForallOp> blocks;
    getOperation()->walk<WalkOrder::PreOrder>([&](scf::ForallOp forall) {
      if (!isBlockForall(forall))
        return WalkResult::advance();
      blocks.push_back(forall);
      return WalkResult::skip();
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp forall : blocks)
      if (failed(mapBlockForall(rewriter, forall)))
        return signalPassFailure();
  }
};

struct Dsv3GPUSerializeThreads
    : dsv3::impl::Dsv3GPUSerializeThreadsBase<Dsv3GPUSerializeThreads> {
  void runOnOperation() override {
    SmallVector<scf::ForallOp> threads;
    getOperation()->walk([&](scf::ForallOp forall) {
      if (isThreadForall(forall) || isWarpForall(forall))
        threads.push_back(forall);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp forall : threads) {
      if (forall.getNumResults() != 0) {
        forall.emitOpError("serializes only once bufferized");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(forall);
      if (failed(scf::forallToForLoop(rewriter, forall)))
        return signalPassFailure();
    }
  }
};

} // namespace
