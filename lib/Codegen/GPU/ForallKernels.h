//===- ForallKernels.h - pieces of the cuda strategy's forall kernels -----===//
//
// The cuda strategy writes a kernel as an scf.forall mapped to blocks around
// thread-mapped scf.foralls (phases) on tensors, with buffers between phases
// in workgroup memory (docs/cuda-target.md, "Strategies"). These build them.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_CODEGEN_GPU_FORALLKERNELS_H
#define DSV3_CODEGEN_GPU_FORALLKERNELS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/Alignment.h"

#include <optional>

namespace mlir::dsv3::gpu_kernels {

/// A buffer between phases (`bufferization.alloc_tensor`): in the workgroup
/// address space on cuda, plain memory on cuda-sim (`sharedMemory` false).
Value sharedBuffer(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   Type elem, bool sharedMemory);

/// What one forall iteration writes into one of its shared outputs: `part`
/// at `offsets` / `sizes` / `strides`.
struct Slot {
  Value part;
  SmallVector<OpFoldResult> offsets, sizes, strides;
};

/// Index attributes for static offsets, sizes or strides.
SmallVector<OpFoldResult> indexAttrs(OpBuilder &b, ArrayRef<int64_t> values);

/// The slice of `src` that `where` describes, with the (possibly
/// rank-reduced) type `type`.
Value extractSlot(OpBuilder &b, Location loc, RankedTensorType type, Value src,
                  const Slot &where);

using ForallBody = function_ref<SmallVector<Slot>(
    OpBuilder &, Location, ValueRange ivs, ValueRange outs)>;

/// An f32 constant.
Value cF32(OpBuilder &b, Location loc, float v);

/// `v` (a scalar or vector of floats) widened to f32 exactly, or itself.
Value toF32(OpBuilder &b, Location loc, Value v);

/// An scf.forall over [0, extents) mapped to `#gpu.block` (`blocks`) or
/// `#gpu.thread` ids in the order of `ids`, with shared outputs `inits`.
/// `body` gets the induction variables and the outputs and returns one slot
/// per output, which the forall's terminator inserts.
SmallVector<Value> mappedForall(OpBuilder &b, Location loc,
                                ArrayRef<int64_t> extents,
                                ArrayRef<gpu::MappingId> ids, bool blocks,
                                ValueRange inits, ForallBody body);

/// An scf.forall over `warps` warps of the block (`#gpu.warp<linear_dim_0>`:
/// warp w is the block's threads 32 w .. 32 w + 31 in linear order) whose
/// body is the warp's collective code, e.g. 2-D vector tiles that
/// dsv3-gpu-warp-mma distributes over the lanes on cuda (cuda-sim runs it
/// once per warp).
SmallVector<Value> warpForall(OpBuilder &b, Location loc, int64_t warps,
                              ValueRange inits, ForallBody body);

/// Whether `forall` is mapped to #gpu.warp (a warp's collective code).
bool isWarpForall(scf::ForallOp forall);

/// The [rows, cols] tile of `src` at `indices` (its last two dimensions, in
/// bounds), widened to f32: an operand of warpContract.
Value readTileF32(OpBuilder &b, Location loc, Value src, ValueRange indices,
                  int64_t rows, int64_t cols);

/// acc[m, n] + Σ_k lhs[m, k] · rhs[n, k]: the m16n8k16 contract of a warp
/// tile ([16, 16] x [8, 16] -> [16, 8] f32) that dsv3-gpu-warp-mma makes an
/// mma.sync.
Value warpContract(OpBuilder &b, Location loc, Value lhs, Value rhs, Value acc);

/// Σ_{j in [0, n)} body(j) as an scf.for carrying an f32 or integer sum
/// from `zero`, j ascending.
Value sumOver(OpBuilder &b, Location loc, Value n, Value zero,
              function_ref<Value(OpBuilder &, Location, Value)> body);
Value sumOver(OpBuilder &b, Location loc, int64_t n, Value zero,
              function_ref<Value(OpBuilder &, Location, Value)> body);

/// A thread forall over `n` threads (#gpu.thread<x>) whose thread i writes
/// the scalars body(i) at [i] of each of `inits` (rank-1 tensors).
SmallVector<Value> scalarsPerThread(
    OpBuilder &b, Location loc, int64_t n, ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value)> body);

/// The largest power of two <= `most` (a power of two) that divides
/// `width`: threads that stride over a row's columns with no remainder.
int64_t threadsDividing(int64_t width, int64_t most = 256);

/// `loc` with its name (a NameLoc's) extended by `suffix`, so that a
/// strategy's second kernel of an op is named for what it does.
Location withNameSuffix(Location loc, StringRef suffix);

/// Whether `v` is provably a multiple of `factor` (a product with such a
/// constant, sums of multiples, min/max of multiples, loops over multiples).
bool isMultipleOf(Value v, int64_t factor);

/// Whether a `unit`-element access at last index `last` of `memref` (with
/// `bytes`-byte elements) is provably aligned to `align` bytes: an identity
/// layout (whose base the runtime and gpu.alloc align to at least 256
/// bytes, and dsv3-gpu-align-workgroup-buffers, which the cuda pipeline runs
/// after outlining, the workgroup attributions to 16) with rows a multiple of
/// `align` long and a last index that is a multiple of `align / bytes`, or a
/// subview of such a memref along its unit-stride last dimension whose last
/// offset is one.
bool isAlignedAccess(Value memref, Value last, int64_t unit, int64_t bytes,
                     int64_t align);

/// The largest power of two from 16 bytes down to `least` that an access of
/// `vec` at `indices` of `memref` provably has, or none.
llvm::MaybeAlign accessAlignment(Value memref, VectorType vec,
                                 ValueRange indices, int64_t least = 4);

/// What one launch of a strategy's kernel moves to or from device memory and
/// computes, for the profile's GB/s and TFLOP/s (dsv3-gpu-kernel-costs): set
/// only what the strategy knows at compile time.
struct KernelCost {
  std::optional<int64_t> bytes;
  std::optional<int64_t> flops;
};

/// The attribute a block forall, then its gpu.launch, carries its cost in.
constexpr llvm::StringLiteral kKernelCostAttr = "dsv3.kernel_cost";

/// Bytes of the tensors the block forall reads from outside its body (but
/// those in `skip`) and of its results, each counted once: what the kernel
/// moves if it reads every such tensor whole and once. None if one has a
/// dynamic shape or the sum overflows.
std::optional<int64_t> operandBytes(scf::ForallOp blockForall,
                                    ArrayRef<Value> skip = {});

/// Bytes of a static tensor or memref type (sub-byte elements rounded up to
/// a byte), none if dynamic or too large for int64.
std::optional<int64_t> typeBytes(ShapedType type);

/// The product of non-negative `factors`, none if it overflows int64.
std::optional<int64_t> checkedProduct(ArrayRef<int64_t> factors);

/// Records `cost` on `blockForall` as kKernelCostAttr, which
/// dsv3-gpu-map-foralls moves to the launch.
void setKernelCost(scf::ForallOp blockForall, KernelCost cost);

} // namespace mlir::dsv3::gpu_kernels

#endif // DSV3_CODEGEN_GPU_FORALLKERNELS_H
