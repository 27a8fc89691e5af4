//===- RMSNorm.cpp - cuda strategy: one block per row for dsv3.rms_norm ---===//
//
// The definition of rms_norm is two linalg ops (a sum of squares per row,
// then the scaling), which the correct-first mapping runs as separate
// kernels, the first with one thread per row walking the row serially. A
// decode step has one row per norm, so that thread did all the work. Here a
// block of 256 threads takes a row in three phases: strided partial sums of
// squares, one thread adding the 256 partials (in order) into the row's
// scale, then every thread scaling its elements. One kernel per norm.
//
//===----------------------------------------------------------------------===//

#include "../Host/KernelBuilders.h"
#include "ForallKernels.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPURMSNORM
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using gpu_kernels::toF32;
using host::cIdx;
using host::yieldSlice;

namespace {

constexpr int64_t kThreads = 256;

Value fromF32(OpBuilder &b, Location loc, Value v, Type to) {
  if (to.isF32())
    return v;
  return arith::TruncFOp::create(b, loc, to, v);
}

/// A shared (or, for cuda-sim, plain) f32 buffer of `shape`.
Value sharedBuffer(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                   bool sharedMemory) {
  auto alloc = bufferization::AllocTensorOp::create(
      b, loc, RankedTensorType::get(shape, b.getF32Type()), ValueRange{});
  if (sharedMemory)
    alloc.setMemorySpaceAttr(gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace()));
  return alloc;
}

/// A thread forall over `extent` threads (#gpu.thread<x>) whose iteration
/// `t` writes the scalar `body(t)` at [t] of `init`.
Value threadsWriting(OpBuilder &b, Location loc, int64_t extent, Value init,
                     function_ref<Value(OpBuilder &, Location, Value)> body) {
  auto mapping = b.getArrayAttr(
      {gpu::GPUThreadMappingAttr::get(b.getContext(), gpu::MappingId::DimX)});
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(extent)}, ValueRange{init},
      mapping, [&](OpBuilder &b, Location loc, ValueRange args) {
        Value t = args[0], out = args[1];
        Value v = body(b, loc, t);
        SmallVector<OpFoldResult> offsets = {t}, sizes = {b.getIndexAttr(1)};
        Value slot = tensor::ExtractSliceOp::create(
            b, loc, out, offsets, sizes,
            SmallVector<OpFoldResult>{b.getIndexAttr(1)});
        slot = tensor::InsertOp::create(b, loc, v, slot,
                                        ValueRange{cIdx(b, loc, 0)});
        yieldSlice(b, loc, slot, out, offsets, sizes);
      });
  return forall.getResult(0);
}

Value buildRMSNorm(OpBuilder &b, Location loc, RMSNormOp op,
                   bool sharedMemory) {
  MLIRContext *ctx = b.getContext();
  auto xType = op.getInput().getType();
  auto yType = op.getResult().getType();
  int64_t rank = xType.getRank(), d = xType.getShape().back();
  int64_t rows = xType.getNumElements() / d;
  // [rows, d] views of the input and the result (rank 1: one row).
  SmallVector<ReassociationIndices> toRows;
  if (rank > 1) {
    ReassociationIndices leading;
    for (int64_t i = 0; i < rank - 1; ++i)
      leading.push_back(i);
    toRows = {leading, {rank - 1}};
  }
  auto rowsType = [&](Type elem) {
    return RankedTensorType::get({rows, d}, elem);
  };
  Value x = op.getInput();
  x = rank > 1 ? tensor::CollapseShapeOp::create(b, loc, x, toRows).getResult()
               : tensor::ExpandShapeOp::create(
                     b, loc, rowsType(xType.getElementType()), x,
                     SmallVector<ReassociationIndices>{{0, 1}})
                     .getResult();
  Value w = op.getWeight();
  Type yElem = yType.getElementType();
  // The result's own shape collapsed to rows, so that bufferization writes
  // the kernel's output in place (an empty [rows, d] would be copied).
  Value init = tensor::EmptyOp::create(b, loc, yType.getShape(), yElem);
  init = rank > 1
             ? tensor::CollapseShapeOp::create(b, loc, init, toRows).getResult()
             : tensor::ExpandShapeOp::create(
                   b, loc, rowsType(yElem), init,
                   SmallVector<ReassociationIndices>{{0, 1}})
                   .getResult();
  float eps = op.getEpsilon().convertToFloat();
  const int64_t threads = std::min(kThreads, d);

  auto blocks = b.getArrayAttr(
      {gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimX)});
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(rows)}, ValueRange{init},
      blocks, [&](OpBuilder &b, Location loc, ValueRange args) {
        Value row = args[0], out = args[1];
        // Phase 1: thread t sums f32(x)^2 over columns t, t + 256, ...
        Value partials = threadsWriting(
            b, loc, threads, sharedBuffer(b, loc, {threads}, sharedMemory),
            [&](OpBuilder &b, Location loc, Value t) -> Value {
              Value zero =
                  arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
              return scf::ForOp::create(
                         b, loc, t, cIdx(b, loc, d), cIdx(b, loc, threads),
                         ValueRange{zero},
                         [&](OpBuilder &b, Location loc, Value j,
                             ValueRange iter) {
                           Value v = toF32(b, loc,
                                           tensor::ExtractOp::create(
                                               b, loc, x, ValueRange{row, j}));
                           scf::YieldOp::create(
                               b, loc,
                               ValueRange{arith::AddFOp::create(
                                   b, loc, iter[0],
                                   arith::MulFOp::create(b, loc, v, v))});
                         })
                  .getResult(0);
            });
        // Phase 2: one thread adds the partials in order and computes the
        // row's rsqrt(mean + eps), as the definition does.
        Value scale = threadsWriting(
            b, loc, 1, sharedBuffer(b, loc, {1}, sharedMemory),
            [&](OpBuilder &b, Location loc, Value) -> Value {
              Value zero =
                  arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
              Value sum =
                  scf::ForOp::create(
                      b, loc, cIdx(b, loc, 0), cIdx(b, loc, threads),
                      cIdx(b, loc, 1), ValueRange{zero},
                      [&](OpBuilder &b, Location loc, Value t,
                          ValueRange iter) {
                        scf::YieldOp::create(b, loc,
                                             ValueRange{arith::AddFOp::create(
                                                 b, loc, iter[0],
                                                 tensor::ExtractOp::create(
                                                     b, loc, partials, t))});
                      })
                      .getResult(0);
              Value mean = arith::DivFOp::create(
                  b, loc, sum,
                  arith::ConstantOp::create(b, loc,
                                            b.getF32FloatAttr(float(d))));
              return math::RsqrtOp::create(
                  b, loc,
                  arith::AddFOp::create(b, loc, mean,
                                        arith::ConstantOp::create(
                                            b, loc, b.getF32FloatAttr(eps))));
            });
        // Phase 3: y = cast((f32(x) * r) * f32(w)), strided like phase 1.
        auto mapping = b.getArrayAttr(
            {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
        SmallVector<OpFoldResult> rowOffsets = {row, b.getIndexAttr(0)};
        SmallVector<OpFoldResult> rowSizes = {b.getIndexAttr(1),
                                              b.getIndexAttr(d)};
        SmallVector<OpFoldResult> unit(2, b.getIndexAttr(1));
        Value yRow = tensor::ExtractSliceOp::create(
            b, loc, RankedTensorType::get({d}, yElem), out, rowOffsets,
            rowSizes, unit);
        auto scaleAll = scf::ForallOp::create(
            b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(threads)},
            ValueRange{yRow}, mapping,
            [&](OpBuilder &b, Location loc, ValueRange targs) {
              Value t = targs[0], dst = targs[1];
              Value r = tensor::ExtractOp::create(b, loc, scale,
                                                  ValueRange{cIdx(b, loc, 0)});
              // This thread's columns t, t + threads, ...: a strided slice
              // (d is a multiple of the thread count).
              SmallVector<OpFoldResult> offsets = {t};
              SmallVector<OpFoldResult> sizes = {b.getIndexAttr(d / threads)};
              SmallVector<OpFoldResult> strides = {b.getIndexAttr(threads)};
              Value mine = tensor::ExtractSliceOp::create(b, loc, dst, offsets,
                                                          sizes, strides);
              auto cols = scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), cIdx(b, loc, d / threads),
                  cIdx(b, loc, 1), ValueRange{mine},
                  [&](OpBuilder &b, Location loc, Value i, ValueRange iter) {
                    Value j = arith::AddIOp::create(
                        b, loc, t,
                        arith::MulIOp::create(b, loc, i,
                                              cIdx(b, loc, threads)));
                    Value v = toF32(b, loc,
                                    tensor::ExtractOp::create(
                                        b, loc, x, ValueRange{row, j}));
                    v = arith::MulFOp::create(b, loc, v, r);
                    v = arith::MulFOp::create(
                        b, loc, v,
                        toF32(b, loc, tensor::ExtractOp::create(b, loc, w, j)));
                    scf::YieldOp::create(
                        b, loc,
                        ValueRange{tensor::InsertOp::create(
                            b, loc, fromF32(b, loc, v, yElem), iter[0], i)});
                  });
              auto inParallel = scf::InParallelOp::create(b, loc);
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPointToStart(inParallel.getBody());
              tensor::ParallelInsertSliceOp::create(
                  b, loc, cols.getResult(0), dst, offsets, sizes, strides);
            });
        yieldSlice(b, loc, scaleAll.getResult(0), out, rowOffsets, rowSizes);
      });
  // Reads x and the weight, writes y; the arithmetic is not counted.
  gpu_kernels::setKernelCost(forall, {gpu_kernels::operandBytes(forall), {}});
  Value y = forall.getResult(0);
  if (rank > 1)
    return tensor::ExpandShapeOp::create(b, loc, yType, y, toRows);
  return tensor::CollapseShapeOp::create(
      b, loc, y, SmallVector<ReassociationIndices>{{0, 1}});
}

struct Dsv3GPURMSNorm : dsv3::impl::Dsv3GPURMSNormBase<Dsv3GPURMSNorm> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<RMSNormOp> ops;
    getOperation()->walk([&](RMSNormOp op) {
      auto x = op.getInput().getType();
      int64_t d = x.getShape().back();
      // Static rows, and (for the strided phases) whole multiples of the
      // block's threads or fewer columns than threads.
      if (x.hasStaticShape() && x.getNumElements() / d <= maxRows &&
          (d % kThreads == 0 || d < kThreads))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (RMSNormOp op : ops) {
      rewriter.setInsertionPoint(op);
      rewriter.replaceOp(op,
                         buildRMSNorm(rewriter, op.getLoc(), op, sharedMemory));
    }
  }
};

} // namespace
