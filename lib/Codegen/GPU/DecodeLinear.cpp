//===- DecodeLinear.cpp - cuda strategy: GEMV kernel for decode linears ---===//
//
// A decode step's linears (a few tokens, thousands of weight rows) are bound
// by reading the weight once. The correct-first mapping gives each output a
// thread that walks its weight row serially, so the threads of a warp read
// rows K bytes apart. This strategy gives each row a warp instead: lane l
// reads 16 consecutive weight elements (one 16-byte load for FP8) at
// k = 16 l + 512 j, so a warp's loads cover 512 contiguous bytes, and every
// token's partial sum of the row stays in a register. The 32 partial sums
// of a row meet in shared memory after a barrier and one thread per
// (row, token) adds them up. Several warps (rows) share a block.
//
// The kernel is written as nested scf.forall ops with GPU mappings (blocks,
// then threads in phases separated by the foralls' ends), on tensors, so it
// bufferizes with the rest of the function; dsv3-gpu-map-foralls makes the
// launch, and dsv3-gpu-serialize-threads runs the same IR on the host
// (docs/cuda-target.md, "Proof without a GPU").
//
//===----------------------------------------------------------------------===//

#include "../Host/KernelBuilders.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUDECODELINEAR
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using host::cIdx;
using host::widenE4M3Scaled;
using host::yieldSlice;

namespace {

constexpr int64_t kWarpSize = 32;
/// Weight elements per lane and load: 16 bytes of FP8.
constexpr int64_t kLaneElems = 16;
/// Rows (warps) per block, largest first; the largest that divides N.
constexpr int64_t kRowsPerBlock[] = {8, 4, 2, 1};

/// Converts a float vector to f32 (exact for the f16/bf16/f32 it meets).
Value vectorToF32(OpBuilder &b, Location loc, Value v) {
  auto type = cast<VectorType>(v.getType());
  if (type.getElementType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, type.clone(b.getF32Type()), v);
}

struct DecodeLinear {
  mutable LinearOp op; // the generated accessors are not const
  int64_t m, n, k, rows;
  bool sharedMemory;

  /// Phase 1, one thread = (row w of the block, lane): the lane's partial sum
  /// of row n0 + w for every token, over k = 16 lane + 512 j.
  Value lanePartials(OpBuilder &b, Location loc, Value n0, Value init) const {
    MLIRContext *ctx = b.getContext();
    auto threads = b.getArrayAttr(
        {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimY),
         gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
    Value x = op.getInput(), w = op.getWeight(), s = op.getWeightScaleInv();
    Type wElem = cast<ShapedType>(w.getType()).getElementType();
    Type xElem = cast<ShapedType>(x.getType()).getElementType();
    bool fp8 = isa<Float8E4M3FNType>(wElem);
    auto accType = VectorType::get({m}, b.getF32Type());
    auto vecF32 = VectorType::get({kLaneElems}, b.getF32Type());
    auto forall = scf::ForallOp::create(
        b, loc,
        ArrayRef<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(kWarpSize)},
        ValueRange{init}, threads,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value wRow = args[0], lane = args[1], out = args[2];
          Value row = arith::AddIOp::create(b, loc, n0, wRow);
          Value first =
              arith::MulIOp::create(b, loc, lane, cIdx(b, loc, kLaneElems));
          Value zero = arith::ConstantOp::create(
              b, loc, accType, DenseElementsAttr::get(accType, 0.0f));
          // One 16-element step of the lane at column kk, for every token.
          auto step = [&](OpBuilder &b, Location loc, Value kk,
                          Value acc) -> Value {
            Value wPad =
                arith::ConstantOp::create(b, loc, wElem, b.getZeroAttr(wElem));
            Value codes = vector::TransferReadOp::create(
                b, loc, VectorType::get({kLaneElems}, wElem), w,
                ValueRange{row, kk}, wPad, ArrayRef<bool>{true});
            // The 16 elements lie in one 128-wide scale block. FP8 codes
            // widen exactly to value * 2^-8; the 2^8 joins the scale, so
            // each weight element is f32(q) * s rounded once, as in the
            // definition.
            Value wf = fp8 ? widenE4M3Scaled(b, loc, codes)
                           : vectorToF32(b, loc, codes);
            if (s) {
              Value block = cIdx(b, loc, kQuantBlock);
              Value scale = tensor::ExtractOp::create(
                  b, loc, s,
                  ValueRange{arith::DivUIOp::create(b, loc, row, block),
                             arith::DivUIOp::create(b, loc, kk, block)});
              if (!scale.getType().isF32())
                scale = arith::ExtFOp::create(b, loc, b.getF32Type(), scale);
              if (fp8)
                scale = arith::MulFOp::create(
                    b, loc, scale,
                    arith::ConstantOp::create(b, loc,
                                              b.getF32FloatAttr(256.0f)));
              wf = arith::MulFOp::create(
                  b, loc, wf,
                  vector::BroadcastOp::create(b, loc, vecF32, scale));
            }
            Value xPad =
                arith::ConstantOp::create(b, loc, xElem, b.getZeroAttr(xElem));
            for (int64_t t = 0; t < m; ++t) {
              Value xv =
                  vectorToF32(b, loc,
                              vector::TransferReadOp::create(
                                  b, loc, VectorType::get({kLaneElems}, xElem),
                                  x, ValueRange{cIdx(b, loc, t), kk}, xPad,
                                  ArrayRef<bool>{true}));
              Value prod = arith::MulFOp::create(b, loc, xv, wf);
              Value sum = vector::ReductionOp::create(
                  b, loc, vector::CombiningKind::ADD, prod);
              Value old = vector::ExtractOp::create(b, loc, acc, t);
              acc = vector::InsertOp::create(
                  b, loc, arith::AddFOp::create(b, loc, old, sum), acc, t);
            }
            return acc;
          };
          // Whole 512-column chunks in a loop, then the lanes that still
          // have 16 columns in a partial chunk.
          const int64_t chunk = kLaneElems * kWarpSize;
          auto kLoop = scf::ForOp::create(
              b, loc, cIdx(b, loc, 0), cIdx(b, loc, k / chunk), cIdx(b, loc, 1),
              ValueRange{zero},
              [&](OpBuilder &b, Location loc, Value j, ValueRange iter) {
                Value kk = arith::AddIOp::create(
                    b, loc, first,
                    arith::MulIOp::create(b, loc, j, cIdx(b, loc, chunk)));
                scf::YieldOp::create(b, loc, step(b, loc, kk, iter[0]));
              });
          Value sums = kLoop.getResult(0);
          if (k % chunk != 0) {
            Value kk = arith::AddIOp::create(b, loc, first,
                                             cIdx(b, loc, k / chunk * chunk));
            Value inside = arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::ult, kk, cIdx(b, loc, k));
            auto tail = scf::IfOp::create(
                b, loc, inside,
                [&](OpBuilder &b, Location loc) {
                  scf::YieldOp::create(b, loc, step(b, loc, kk, sums));
                },
                [&](OpBuilder &b, Location loc) {
                  scf::YieldOp::create(b, loc, sums);
                });
            sums = tail.getResult(0);
          }
          // This thread's [1, 1, M] slice of the partials, written in place
          // (a slice of the shared output bufferizes to a view of it).
          SmallVector<OpFoldResult> offsets = {wRow, lane, b.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {
              b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(m)};
          Value slot = tensor::ExtractSliceOp::create(
              b, loc, RankedTensorType::get({m}, b.getF32Type()), out, offsets,
              sizes, SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
          // Scalar stores: NVVM lowering leaves a vector store to a strided
          // view of shared memory unconverted.
          for (int64_t t = 0; t < m; ++t)
            slot = tensor::InsertOp::create(
                b, loc, vector::ExtractOp::create(b, loc, sums, t), slot,
                ValueRange{cIdx(b, loc, t)});
          auto inParallel = scf::InParallelOp::create(b, loc);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(inParallel.getBody());
          tensor::ParallelInsertSliceOp::create(
              b, loc, slot, out, offsets, sizes,
              SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
          // A decode linear has few blocks per SM (q_a_proj: 192 blocks of
          // 8 warps on 132 SMs), so a lane's loads must be in flight
          // together to cover the memory latency: unroll the chunk loop
          // (the backend keeps it rolled), less for more tokens, whose
          // activation loads and registers grow with it. After the uses of
          // the loop's result exist, which the unrolling rewires.
          // The factor divides the trip count: no rolled remainder loop.
          const int64_t chunks = k / chunk;
          int64_t unroll = std::min(chunks, std::max<int64_t>(1, 8 / m));
          while (unroll > 1 && chunks % unroll != 0)
            --unroll;
          if (unroll > 1)
            (void)loopUnrollByFactor(kLoop, unroll);
        });
    return forall.getResult(0);
  }

  /// Phase 2, one thread = (row w, token t): the sum of the row's 32 lane
  /// partials, in lane order, rounded to the result type.
  Value sumLanes(OpBuilder &b, Location loc, Value partials, Value init) const {
    MLIRContext *ctx = b.getContext();
    auto threads = b.getArrayAttr(
        {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimY),
         gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
    Type outElem = op.getResult().getType().getElementType();
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(m)},
        ValueRange{init}, threads,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value wRow = args[0], t = args[1], out = args[2];
          Value zero =
              arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
          auto lanes = scf::ForOp::create(
              b, loc, cIdx(b, loc, 0), cIdx(b, loc, kWarpSize), cIdx(b, loc, 1),
              ValueRange{zero},
              [&](OpBuilder &b, Location loc, Value lane, ValueRange iter) {
                Value p = tensor::ExtractOp::create(b, loc, partials,
                                                    ValueRange{wRow, lane, t});
                scf::YieldOp::create(
                    b, loc,
                    ValueRange{arith::AddFOp::create(b, loc, iter[0], p)});
              });
          Value y = lanes.getResult(0);
          if (!outElem.isF32())
            y = arith::TruncFOp::create(b, loc, outElem, y);
          SmallVector<OpFoldResult> offsets = {t, wRow};
          SmallVector<OpFoldResult> sizes(2, b.getIndexAttr(1));
          Value elem = tensor::ExtractSliceOp::create(
              b, loc, out, offsets, sizes,
              SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
          Value c0 = cIdx(b, loc, 0);
          elem = tensor::InsertOp::create(b, loc, y, elem, ValueRange{c0, c0});
          yieldSlice(b, loc, elem, out, offsets, sizes);
        });
    return forall.getResult(0);
  }

  Value build(OpBuilder &b, Location loc) const {
    MLIRContext *ctx = b.getContext();
    auto yType = op.getResult().getType();
    Value init = tensor::EmptyOp::create(b, loc, yType.getShape(),
                                         yType.getElementType());
    auto blocks = b.getArrayAttr(
        {gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimX)});
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(n / rows)},
        ValueRange{init}, blocks,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value n0 = arith::MulIOp::create(b, loc, args[0], cIdx(b, loc, rows));
          // The partial sums, [rows, lanes, tokens], in shared memory.
          auto partialType =
              RankedTensorType::get({rows, kWarpSize, m}, b.getF32Type());
          auto alloc = bufferization::AllocTensorOp::create(b, loc, partialType,
                                                            ValueRange{});
          if (sharedMemory)
            alloc.setMemorySpaceAttr(gpu::AddressSpaceAttr::get(
                ctx, gpu::GPUDialect::getWorkgroupAddressSpace()));
          Value partials = lanePartials(b, loc, n0, alloc);
          SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
          SmallVector<OpFoldResult> sizes = {b.getIndexAttr(m),
                                             b.getIndexAttr(rows)};
          SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
          Value tile = tensor::ExtractSliceOp::create(b, loc, args[1], offsets,
                                                      sizes, strides);
          tile = sumLanes(b, loc, partials, tile);
          yieldSlice(b, loc, tile, args[1], offsets, sizes);
        });
    return forall.getResult(0);
  }
};

/// The linears this strategy takes, or why not.
LogicalResult matchDecodeLinear(LinearOp op, int64_t maxTokens,
                                DecodeLinear &out) {
  if (op.getActQuant() != ActivationQuant::none)
    return failure(); // activation-quantized: the GEMM strategies' job
  auto xType = op.getInput().getType();
  auto wType = op.getWeight().getType();
  if (!xType.hasStaticShape() || !wType.hasStaticShape())
    return failure();
  int64_t m = xType.getDimSize(0), k = xType.getDimSize(1),
          n = wType.getDimSize(0);
  if (m < 1 || m > maxTokens || k % kLaneElems != 0)
    return failure();
  Type wElem = wType.getElementType();
  if (!isa<Float8E4M3FNType, BFloat16Type, Float16Type, Float32Type>(wElem))
    return failure();
  int64_t rows = 1;
  for (int64_t r : kRowsPerBlock)
    if (n % r == 0) {
      rows = r;
      break;
    }
  out = DecodeLinear{op, m, n, k, rows, /*sharedMemory=*/true};
  return success();
}

struct Dsv3GPUDecodeLinear
    : dsv3::impl::Dsv3GPUDecodeLinearBase<Dsv3GPUDecodeLinear> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<LinearOp> ops;
    getOperation()->walk([&](LinearOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (LinearOp op : ops) {
      DecodeLinear kernel;
      if (failed(matchDecodeLinear(op, maxTokens, kernel)))
        continue;
      kernel.sharedMemory = sharedMemory;
      rewriter.setInsertionPoint(op);
      rewriter.replaceOp(op, kernel.build(rewriter, op.getLoc()));
    }
  }
};

} // namespace
