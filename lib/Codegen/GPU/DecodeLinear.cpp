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

/// A block of the GEMV: `rows` weight rows (a warp each) times `m`
/// activation rows. The two phases and the shared buffer between them; the
/// ops' kernels below place the blocks.
struct Gemv {
  Value x, w, s; // [*, K]; [(E,) N, K]; [(E,) ceil(N/128), ceil(K/128)]
  Type outElem;
  int64_t m, k, rows;
  bool sharedMemory;

  /// The partial sums, [rows, lanes, tokens], in shared memory.
  Value allocPartials(OpBuilder &b, Location loc) const {
    auto type = RankedTensorType::get({rows, kWarpSize, m}, b.getF32Type());
    auto alloc =
        bufferization::AllocTensorOp::create(b, loc, type, ValueRange{});
    if (sharedMemory)
      alloc.setMemorySpaceAttr(gpu::AddressSpaceAttr::get(
          b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace()));
    return alloc;
  }

  /// Phase 1, one thread = (row w of the block, lane): the lane's partial sum
  /// of weight row n0 + w (after the index `prefix`, e.g. the expert) with
  /// each activation row of `xRows`, over k = 16 lane + 512 j. Where `valid`
  /// is false the sums are 0 and no weight is read.
  Value lanePartials(OpBuilder &b, Location loc, Value n0,
                     ArrayRef<Value> prefix, ArrayRef<Value> xRows, Value valid,
                     Value init) const {
    MLIRContext *ctx = b.getContext();
    auto threads = b.getArrayAttr(
        {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimY),
         gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
    Type wElem = cast<ShapedType>(w.getType()).getElementType();
    Type xElem = cast<ShapedType>(x.getType()).getElementType();
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
            SmallVector<Value> wIdx(prefix);
            wIdx.append({row, kk});
            Value codes = vector::TransferReadOp::create(
                b, loc, VectorType::get({kLaneElems}, wElem), w, wIdx, wPad,
                ArrayRef<bool>{true});
            // The 16 elements lie in one 128-wide scale block. Widening is
            // exact (the hardware conversion on cuda), so each weight
            // element is f32(q) * s rounded once, as in the definition.
            Value wf = vectorToF32(b, loc, codes);
            if (s) {
              Value block = cIdx(b, loc, kQuantBlock);
              SmallVector<Value> sIdx(prefix);
              sIdx.append({arith::DivUIOp::create(b, loc, row, block),
                           arith::DivUIOp::create(b, loc, kk, block)});
              Value scale = tensor::ExtractOp::create(b, loc, s, sIdx);
              if (!scale.getType().isF32())
                scale = arith::ExtFOp::create(b, loc, b.getF32Type(), scale);
              wf = arith::MulFOp::create(
                  b, loc, wf,
                  vector::BroadcastOp::create(b, loc, vecF32, scale));
            }
            Value xPad =
                arith::ConstantOp::create(b, loc, xElem, b.getZeroAttr(xElem));
            for (int64_t t = 0; t < m; ++t) {
              Value xv = vectorToF32(
                  b, loc,
                  vector::TransferReadOp::create(
                      b, loc, VectorType::get({kLaneElems}, xElem), x,
                      ValueRange{xRows[t], kk}, xPad, ArrayRef<bool>{true}));
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
          Operation *kOps = kLoop;
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
          if (valid) {
            // The loops move into the branch that reads the weight.
            auto guard = scf::IfOp::create(
                b, loc, valid,
                [&](OpBuilder &b, Location loc) {
                  scf::YieldOp::create(b, loc, sums);
                },
                [&](OpBuilder &b, Location loc) {
                  scf::YieldOp::create(b, loc, zero);
                });
            Block *then = guard.thenBlock();
            for (Operation &op : llvm::make_early_inc_range(llvm::make_range(
                     kOps->getIterator(), guard->getIterator())))
              op.moveBefore(then->getTerminator());
            sums = guard.getResult(0);
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
};

int64_t rowsPerBlock(int64_t n) {
  for (int64_t r : kRowsPerBlock)
    if (n % r == 0)
      return r;
  return 1;
}

/// dsv3.linear: a block per `rows` weight rows, all tokens in it.
Value buildLinear(OpBuilder &b, Location loc, LinearOp op, bool sharedMemory) {
  MLIRContext *ctx = b.getContext();
  auto yType = op.getResult().getType();
  int64_t m = yType.getDimSize(0), n = yType.getDimSize(1);
  Gemv gemv{op.getInput(),
            op.getWeight(),
            op.getWeightScaleInv(),
            yType.getElementType(),
            m,
            op.getInput().getType().getDimSize(1),
            rowsPerBlock(n),
            sharedMemory};
  Value init =
      tensor::EmptyOp::create(b, loc, yType.getShape(), yType.getElementType());
  auto blocks = b.getArrayAttr(
      {gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimX)});
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(n / gemv.rows)},
      ValueRange{init}, blocks,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value n0 =
            arith::MulIOp::create(b, loc, args[0], cIdx(b, loc, gemv.rows));
        SmallVector<Value> tokens;
        for (int64_t t = 0; t < m; ++t)
          tokens.push_back(cIdx(b, loc, t));
        Value partials =
            gemv.lanePartials(b, loc, n0, /*prefix=*/{}, tokens,
                              /*valid=*/Value(), gemv.allocPartials(b, loc));
        SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(m),
                                           b.getIndexAttr(gemv.rows)};
        SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
        Value tile = tensor::ExtractSliceOp::create(b, loc, args[1], offsets,
                                                    sizes, strides);
        tile = gemv.sumLanes(b, loc, partials, tile);
        yieldSlice(b, loc, tile, args[1], offsets, sizes);
      });
  return forall.getResult(0);
}

/// The expert whose segment holds row r: the largest e with
/// offsets[e] <= r (empty segments before it have the same offset), by a
/// binary search of fixed length over [0, E). Meaningful for
/// r < offsets[E]; always in [0, E).
Value expertOf(OpBuilder &b, Location loc, Value offsets, Value r,
               int64_t experts) {
  Value r64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), r);
  auto search = scf::ForOp::create(
      b, loc, cIdx(b, loc, 0), cIdx(b, loc, llvm::Log2_64_Ceil(experts)),
      cIdx(b, loc, 1), ValueRange{cIdx(b, loc, 0), cIdx(b, loc, experts)},
      [&](OpBuilder &b, Location loc, Value, ValueRange iter) {
        Value lo = iter[0], hi = iter[1];
        Value mid = arith::DivUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, lo, hi), cIdx(b, loc, 2));
        Value start = tensor::ExtractOp::create(b, loc, offsets, mid);
        Value in = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                         start, r64);
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::SelectOp::create(b, loc, in, mid, lo),
                       arith::SelectOp::create(b, loc, in, hi, mid)});
      });
  return search.getResult(0);
}

/// dsv3.grouped_matmul: a block per (`rows` weight rows, routed row r), with
/// the weight of r's expert. A row past offsets[E] reads nothing and is 0.
/// At decode each expert has at most one row per token, so each routed
/// expert's weight is read about once per token.
Value buildGroupedMatmul(OpBuilder &b, Location loc, GroupedMatmulOp op,
                         bool sharedMemory) {
  MLIRContext *ctx = b.getContext();
  auto yType = op.getResult().getType();
  auto wType = op.getWeight().getType();
  int64_t r = yType.getDimSize(0), n = yType.getDimSize(1),
          e = wType.getDimSize(0);
  Gemv gemv{op.getInput(),
            op.getWeight(),
            op.getWeightScaleInv(),
            yType.getElementType(),
            /*m=*/1,
            op.getInput().getType().getDimSize(1),
            rowsPerBlock(n),
            sharedMemory};
  Value init =
      tensor::EmptyOp::create(b, loc, yType.getShape(), yType.getElementType());
  auto blocks = b.getArrayAttr(
      {gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimX),
       gpu::GPUBlockMappingAttr::get(ctx, gpu::MappingId::DimY)});
  Value offsets = op.getOffsets();
  auto forall = scf::ForallOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{b.getIndexAttr(n / gemv.rows), b.getIndexAttr(r)},
      ValueRange{init}, blocks,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        Value n0 =
            arith::MulIOp::create(b, loc, args[0], cIdx(b, loc, gemv.rows));
        Value row = args[1];
        Value total = tensor::ExtractOp::create(b, loc, offsets,
                                                ValueRange{cIdx(b, loc, e)});
        Value valid = arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::slt,
            arith::IndexCastOp::create(b, loc, b.getI64Type(), row), total);
        Value expert = expertOf(b, loc, offsets, row, e);
        Value partials = gemv.lanePartials(b, loc, n0, {expert}, {row}, valid,
                                           gemv.allocPartials(b, loc));
        SmallVector<OpFoldResult> tileOffsets = {row, n0};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                           b.getIndexAttr(gemv.rows)};
        SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
        Value tile = tensor::ExtractSliceOp::create(
            b, loc, args[2], tileOffsets, sizes, strides);
        tile = gemv.sumLanes(b, loc, partials, tile);
        yieldSlice(b, loc, tile, args[2], tileOffsets, sizes);
      });
  return forall.getResult(0);
}

/// Whether a weight [(E,) N, K] and activations [M, K] suit the kernel.
bool gemvShapes(ShapedType x, ShapedType w, int64_t maxTokens) {
  if (!x.hasStaticShape() || !w.hasStaticShape())
    return false;
  int64_t m = x.getDimSize(0), k = x.getDimSize(1);
  return m >= 1 && m <= maxTokens && k % kLaneElems == 0 &&
         isa<Float8E4M3FNType, BFloat16Type, Float16Type, Float32Type>(
             w.getElementType());
}

struct Dsv3GPUDecodeLinear
    : dsv3::impl::Dsv3GPUDecodeLinearBase<Dsv3GPUDecodeLinear> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op)) {
        // Activation-quantized linears are the GEMM strategies' job.
        if (linear.getActQuant() == ActivationQuant::none &&
            gemvShapes(linear.getInput().getType(),
                       linear.getWeight().getType(), maxTokens))
          ops.push_back(op);
      } else if (auto grouped = dyn_cast<GroupedMatmulOp>(op)) {
        if (gemvShapes(grouped.getInput().getType(),
                       grouped.getWeight().getType(), maxRows))
          ops.push_back(op);
      }
    });
    IRRewriter rewriter(&getContext());
    for (Operation *op : ops) {
      rewriter.setInsertionPoint(op);
      Value kernel =
          isa<LinearOp>(op)
              ? buildLinear(rewriter, op->getLoc(), cast<LinearOp>(op),
                            sharedMemory)
              : buildGroupedMatmul(rewriter, op->getLoc(),
                                   cast<GroupedMatmulOp>(op), sharedMemory);
      rewriter.replaceOp(op, kernel);
    }
  }
};

} // namespace
