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
#include "ForallKernels.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/Support/CheckedArithmetic.h"

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

/// Computes a fused consumer's element at `coords` ([token or row, column]
/// of the result) from the GEMVs' rounded sums there.
using Epilogue = function_ref<Value(OpBuilder &, Location, ArrayRef<Value> sums,
                                    ValueRange coords)>;

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
  /// partials, in lane order, rounded to the result type; for several GEMVs
  /// of a block (`partials`, one each) the `epilogue` of their rounded sums.
  /// `origin` is the block's tile's first [token or row, column].
  Value sumLanes(OpBuilder &b, Location loc, ValueRange partials, Value init,
                 ArrayRef<Value> origin, Epilogue epilogue = nullptr) const {
    MLIRContext *ctx = b.getContext();
    auto threads = b.getArrayAttr(
        {gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimY),
         gpu::GPUThreadMappingAttr::get(ctx, gpu::MappingId::DimX)});
    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(m)},
        ValueRange{init}, threads,
        [&](OpBuilder &b, Location loc, ValueRange args) {
          Value wRow = args[0], t = args[1], out = args[2];
          SmallVector<Value> sums;
          for (Value part : partials) {
            Value zero =
                arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
            auto lanes = scf::ForOp::create(
                b, loc, cIdx(b, loc, 0), cIdx(b, loc, kWarpSize),
                cIdx(b, loc, 1), ValueRange{zero},
                [&](OpBuilder &b, Location loc, Value lane, ValueRange iter) {
                  Value p = tensor::ExtractOp::create(
                      b, loc, part, ValueRange{wRow, lane, t});
                  scf::YieldOp::create(
                      b, loc,
                      ValueRange{arith::AddFOp::create(b, loc, iter[0], p)});
                });
            Value y = lanes.getResult(0);
            if (!outElem.isF32())
              y = arith::TruncFOp::create(b, loc, outElem, y);
            sums.push_back(y);
          }
          Value y = sums.front();
          if (epilogue)
            y = epilogue(b, loc, sums,
                         {arith::AddIOp::create(b, loc, origin[0], t),
                          arith::AddIOp::create(b, loc, origin[1], wRow)});
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

/// dsv3.linear: a block per `rows` weight rows, all tokens in it. Several
/// linears of the same input and weight shape (`ops`) share the blocks, one
/// phase 1 each, and their rounded sums meet in `epilogue`, whose result
/// type is `yType`.
Value buildLinear(OpBuilder &b, Location loc, ArrayRef<LinearOp> ops,
                  RankedTensorType yType, Epilogue epilogue, bool sharedMemory,
                  Value init = Value()) {
  MLIRContext *ctx = b.getContext();
  LinearOp op = ops.front();
  int64_t m = yType.getDimSize(0), n = yType.getDimSize(1);
  auto gemvOf = [&](LinearOp op) {
    return Gemv{op.getInput(),
                op.getWeight(),
                op.getWeightScaleInv(),
                op.getResult().getType().getElementType(),
                m,
                op.getInput().getType().getDimSize(1),
                rowsPerBlock(n),
                sharedMemory};
  };
  Gemv gemv = gemvOf(op);
  if (!init)
    init = tensor::EmptyOp::create(b, loc, yType.getShape(),
                                   yType.getElementType());
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
        SmallVector<Value> partials;
        for (LinearOp each : ops) {
          Gemv g = gemvOf(each);
          partials.push_back(g.lanePartials(b, loc, n0, /*prefix=*/{}, tokens,
                                            /*valid=*/Value(),
                                            g.allocPartials(b, loc)));
        }
        SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(m),
                                           b.getIndexAttr(gemv.rows)};
        SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
        Value tile = tensor::ExtractSliceOp::create(b, loc, args[1], offsets,
                                                    sizes, strides);
        tile = gemv.sumLanes(b, loc, partials, tile, {cIdx(b, loc, 0), n0},
                             epilogue);
        yieldSlice(b, loc, tile, args[1], offsets, sizes);
      });
  // Every operand is read whole: the weights, scales and activations of
  // each linear, and the epilogue's other inputs.
  int64_t k = gemv.k;
  gpu_kernels::setKernelCost(
      forall, {gpu_kernels::operandBytes(forall),
               gpu_kernels::checkedProduct({2, m, n, k, int64_t(ops.size())})});
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
/// expert's weight is read about once per token. Several grouped matmuls of
/// the same input, offsets and weight shape share the blocks, as in
/// buildLinear.
Value buildGroupedMatmul(OpBuilder &b, Location loc,
                         ArrayRef<GroupedMatmulOp> ops, RankedTensorType yType,
                         Epilogue epilogue, bool sharedMemory,
                         Value init = Value()) {
  MLIRContext *ctx = b.getContext();
  GroupedMatmulOp op = ops.front();
  auto wType = op.getWeight().getType();
  int64_t r = yType.getDimSize(0), n = yType.getDimSize(1),
          e = wType.getDimSize(0);
  auto gemvOf = [&](GroupedMatmulOp op) {
    return Gemv{op.getInput(),
                op.getWeight(),
                op.getWeightScaleInv(),
                op.getResult().getType().getElementType(),
                /*m=*/1,
                op.getInput().getType().getDimSize(1),
                rowsPerBlock(n),
                sharedMemory};
  };
  Gemv gemv = gemvOf(op);
  if (!init)
    init = tensor::EmptyOp::create(b, loc, yType.getShape(),
                                   yType.getElementType());
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
        // A row in no segment (before offsets[0] or at or past offsets[E])
        // reads no weight and gives 0.
        Value total = tensor::ExtractOp::create(b, loc, offsets,
                                                ValueRange{cIdx(b, loc, e)});
        Value first = tensor::ExtractOp::create(b, loc, offsets,
                                                ValueRange{cIdx(b, loc, 0)});
        Value row64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), row);
        Value valid = arith::AndIOp::create(
            b, loc,
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, row64,
                                  total),
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, row64,
                                  first));
        Value expert = expertOf(b, loc, offsets, row, e);
        SmallVector<Value> partials;
        for (GroupedMatmulOp each : ops) {
          Gemv g = gemvOf(each);
          partials.push_back(g.lanePartials(b, loc, n0, {expert}, {row}, valid,
                                            g.allocPartials(b, loc)));
        }
        SmallVector<OpFoldResult> tileOffsets = {row, n0};
        SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                           b.getIndexAttr(gemv.rows)};
        SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
        Value tile = tensor::ExtractSliceOp::create(
            b, loc, args[2], tileOffsets, sizes, strides);
        tile = gemv.sumLanes(b, loc, partials, tile, {row, n0}, epilogue);
        yieldSlice(b, loc, tile, args[2], tileOffsets, sizes);
      });
  // Each routed row reads its expert's weight rows: at most min(R, E)
  // experts' weights and scales, all of them when every row goes to a
  // different expert (a decode step's routed rows), which is what is
  // counted; rows past offsets[E] are counted as routed.
  SmallVector<Value> weights;
  for (GroupedMatmulOp each : ops) {
    weights.push_back(each.getWeight());
    if (Value scale = each.getWeightScaleInv())
      weights.push_back(scale);
  }
  std::optional<int64_t> bytes = gpu_kernels::operandBytes(forall, weights);
  for (Value w : weights) {
    std::optional<int64_t> all =
        gpu_kernels::typeBytes(cast<ShapedType>(w.getType()));
    std::optional<int64_t> sum =
        bytes && all ? llvm::checkedAdd(*bytes, *all / e * std::min(r, e))
                     : std::nullopt;
    bytes = sum;
  }
  gpu_kernels::setKernelCost(
      forall, {bytes, gpu_kernels::checkedProduct(
                          {2, r, n, gemv.k, int64_t(ops.size())})});
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

/// An elementwise consumer of GEMV results that the kernel computes in its
/// phase 2 instead of launching a kernel of its own: SwiGLU's
/// `silu(gate) · up` after gate_proj and up_proj, a residual add after
/// o_proj or down_proj. A linalg.generic, all parallel with identity maps
/// over [1, ..., 1, M, N], whose body is side-effect-free scalar ops that
/// read neither its output nor its indices, with one or two inputs that are
/// the only uses of ops `isGemv` accepts (of the same kind, input, weight
/// and scale shapes, and offsets), directly or through a tensor.expand_shape
/// that only adds the leading unit dimensions; its other inputs are read at
/// the element's coordinates.
struct Fusion {
  linalg::GenericOp consumer;
  SmallVector<Operation *> producers;
  /// The expand_shape ops between producers and consumer, to erase.
  SmallVector<Operation *> reshapes;
  /// For each input of the consumer: its producer's index, or -1.
  SmallVector<int> producerOf;
  /// Later elementwise consumers, each of the previous one's result (at
  /// `chainInput`, through `chainReshapes` where not null).
  SmallVector<linalg::GenericOp> chain;
  SmallVector<unsigned> chainInput;
  SmallVector<Operation *> chainReshapes;
};

/// Whether `expand` only adds leading unit dimensions to a static tensor.
bool addsLeadingUnits(tensor::ExpandShapeOp expand) {
  RankedTensorType from = expand.getSrcType(), to = expand.getResultType();
  return from.hasStaticShape() && to.hasStaticShape() && from.getRank() == 2 &&
         to.getShape().take_back(2) == from.getShape() &&
         llvm::all_of(to.getShape().drop_back(2),
                      [](int64_t d) { return d == 1; });
}

/// Whether `op` is a named op that maps elements one to one (identity maps:
/// linalg.add and the like, not a transpose or broadcast), which the fusion
/// takes once generalized.
bool isElementwiseNamed(linalg::LinalgOp op) {
  return !isa<linalg::GenericOp>(op) && linalg::isElementwise(op) &&
         llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap m) { return m.isIdentity(); });
}

/// Whether `g` can be an epilogue over [1, ..., 1, M, N] (`tile` = [M, N]):
/// all parallel with identity maps, a body of side-effect-free scalar ops
/// that reads neither its output nor its indices.
bool epilogueShaped(linalg::GenericOp g, ArrayRef<int64_t> tile) {
  if (g->getNumResults() != 1)
    return false;
  auto yType = dyn_cast<RankedTensorType>(g->getResult(0).getType());
  if (g.getNumDpsInits() != 1 || !yType || !yType.hasStaticShape() ||
      yType.getRank() < 2 ||
      (!tile.empty() && yType.getShape().take_back(2) != tile) ||
      g.getNumParallelLoops() != g.getNumLoops() ||
      !llvm::all_of(g.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }) ||
      !llvm::all_of(yType.getShape().drop_back(2),
                    [](int64_t d) { return d == 1; }))
    return false;
  Block &body = g.getRegion().front();
  if (!body.getArguments().back().use_empty())
    return false;
  for (Operation &op : body.without_terminator())
    if (isa<linalg::IndexOp>(op) || op.getNumRegions() != 0 ||
        !isMemoryEffectFree(&op))
      return false;
  return true;
}

/// Whether two GEMV ops can share blocks: the same activations, weight and
/// scale shapes (and offsets), so the blocks and tokens of one are the
/// other's.
bool shareBlocks(Operation *pa, Operation *pb) {
  if (pa->getName() != pb->getName() ||
      pa->getResult(0).getType() != pb->getResult(0).getType())
    return false;
  auto sameShapes = [](Value x, Value y) {
    return (!x && !y) || (x && y && x.getType() == y.getType());
  };
  if (auto la = dyn_cast<LinearOp>(pa)) {
    auto lb = cast<LinearOp>(pb);
    return la.getInput() == lb.getInput() &&
           sameShapes(la.getWeight(), lb.getWeight()) &&
           sameShapes(la.getWeightScaleInv(), lb.getWeightScaleInv());
  }
  auto ga = cast<GroupedMatmulOp>(pa), gb = cast<GroupedMatmulOp>(pb);
  return ga.getInput() == gb.getInput() && ga.getOffsets() == gb.getOffsets() &&
         sameShapes(ga.getWeight(), gb.getWeight()) &&
         sameShapes(ga.getWeightScaleInv(), gb.getWeightScaleInv());
}

std::optional<Fusion> matchFusion(linalg::GenericOp g,
                                  function_ref<bool(Operation *)> isGemv) {
  if (!epilogueShaped(g, {}))
    return std::nullopt;
  auto yType = cast<RankedTensorType>(g->getResult(0).getType());
  Fusion f{g, {}, {}, {}, {g}, {0}, {nullptr}};
  for (Value in : g.getDpsInputs()) {
    Value v = in;
    Operation *reshape = nullptr;
    if (auto expand = v.getDefiningOp<tensor::ExpandShapeOp>();
        expand && in.hasOneUse() && expand.getSrcType().getRank() == 2 &&
        expand.getSrcType().getShape() == yType.getShape().take_back(2)) {
      reshape = expand;
      v = expand.getSrc();
    }
    Operation *p = v.getDefiningOp();
    bool shapeOk = reshape || yType.getRank() == 2;
    if (p && shapeOk && v.hasOneUse() && in.hasOneUse() &&
        p->getBlock() == g->getBlock() && isGemv(p) &&
        (f.producers.empty() || shareBlocks(f.producers.front(), p)) &&
        f.producers.size() < 2) {
      f.producerOf.push_back(f.producers.size());
      f.producers.push_back(p);
      if (reshape)
        f.reshapes.push_back(reshape);
    } else {
      f.producerOf.push_back(-1);
    }
  }
  if (f.producers.empty())
    return std::nullopt;
  return f;
}

/// Extends `f` by the elementwise consumers after it (the decoder layer's
/// residual add after the MoE's `routed + shared` sum): while the last
/// result has one use, directly or through an expand_shape that adds
/// leading unit dimensions, by a generic (or an elementwise named op,
/// generalized here) of the same tile that takes it as one input.
void extendChain(Fusion &f, RewriterBase &rewriter,
                 llvm::DenseSet<Operation *> &claimed) {
  ArrayRef<int64_t> tile =
      cast<RankedTensorType>(f.consumer.getType(0)).getShape().take_back(2);
  while (true) {
    Value last = f.chain.back()->getResult(0);
    if (!last.hasOneUse())
      return;
    Operation *user = *last.getUsers().begin();
    Operation *reshape = nullptr;
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(user)) {
      if (!addsLeadingUnits(expand) || !expand->hasOneUse())
        return;
      reshape = expand;
      last = expand.getResult();
      user = *last.getUsers().begin();
    }
    if (user->getBlock() != f.consumer->getBlock())
      return;
    auto named = dyn_cast<linalg::LinalgOp>(user);
    if (named && isElementwiseNamed(named)) {
      rewriter.setInsertionPoint(user);
      FailureOr<linalg::GenericOp> generic =
          linalg::generalizeNamedOp(rewriter, named);
      if (failed(generic))
        return;
      user = *generic;
    }
    // Another fusion's consumer or chain member is that fusion's to rewrite.
    auto g = dyn_cast<linalg::GenericOp>(user);
    if (!g || claimed.contains(g) || !epilogueShaped(g, tile))
      return;
    std::optional<unsigned> at;
    for (auto [i, in] : llvm::enumerate(g.getDpsInputs()))
      if (in == last)
        at = i;
    if (!at)
      return;
    claimed.insert(g);
    f.chain.push_back(g);
    f.chainInput.push_back(*at);
    f.chainReshapes.push_back(reshape);
  }
}

/// The kernel's name: the first producer's, with what the second adds
/// (`grouped_matmul_gate_proj_fp8` and `grouped_matmul_up_proj_fp8` give
/// `grouped_matmul_gate_proj_fp8_and_up_proj_fp8`).
Location pairLoc(Location first, Location second) {
  auto a = dyn_cast<NameLoc>(first), b = dyn_cast<NameLoc>(second);
  if (!a || !b)
    return first;
  StringRef x = a.getName().getValue(), y = b.getName().getValue();
  size_t common = 0;
  while (common < x.size() && common < y.size() && x[common] == y[common])
    ++common;
  // Back to the start of a word.
  while (common > 0 && y[common - 1] != '_')
    --common;
  return gpu_kernels::withNameSuffix(first,
                                     ("_and_" + y.drop_front(common)).str());
}

struct Dsv3GPUDecodeLinear
    : dsv3::impl::Dsv3GPUDecodeLinearBase<Dsv3GPUDecodeLinear> {
  using Base::Base;

  bool isGemv(Operation *op) const {
    if (auto linear = dyn_cast<LinearOp>(op))
      // Activation-quantized linears are the GEMM strategies' job.
      return linear.getActQuant() == ActivationQuant::none &&
             gemvShapes(linear.getInput().getType(),
                        linear.getWeight().getType(), maxTokens);
    if (auto grouped = dyn_cast<GroupedMatmulOp>(op))
      return gemvShapes(grouped.getInput().getType(),
                        grouped.getWeight().getType(), maxRows);
    return false;
  }

  void runOnOperation() override {
    auto accepts = [&](Operation *op) { return isGemv(op); };
    IRRewriter rewriter(&getContext());
    // Elementwise named ops that consume a GEMV (the decoder layer's
    // residual linalg.add) as generics, which the fusion below matches;
    // lowering would generalize them anyway.
    if (fuseEpilogues) {
      SmallVector<linalg::LinalgOp> named;
      getOperation()->walk([&](linalg::LinalgOp op) {
        if (!isElementwiseNamed(op))
          return;
        if (llvm::any_of(op.getDpsInputs(), [&](Value in) {
              if (auto expand = in.getDefiningOp<tensor::ExpandShapeOp>())
                in = expand.getSrc();
              Operation *p = in.getDefiningOp();
              return p && isGemv(p);
            }))
          named.push_back(op);
      });
      for (linalg::LinalgOp op : named) {
        rewriter.setInsertionPoint(op);
        (void)linalg::generalizeNamedOp(rewriter, op);
      }
    }
    SmallVector<Fusion, 4> fusions;
    llvm::DenseSet<Operation *> fused;
    getOperation()->walk([&](linalg::GenericOp g) {
      if (!fuseEpilogues)
        return;
      if (std::optional<Fusion> f = matchFusion(g, accepts)) {
        fused.insert(f->producers.begin(), f->producers.end());
        fusions.push_back(std::move(*f));
      }
    });
    SmallVector<Operation *> ops;
    getOperation()->walk([&](Operation *op) {
      if (isGemv(op) && !fused.contains(op))
        ops.push_back(op);
    });
    llvm::DenseSet<Operation *> claimed;
    for (const Fusion &f : fusions)
      claimed.insert(f.consumer);
    for (Fusion &f : fusions)
      extendChain(f, rewriter, claimed);
    for (const Fusion &f : fusions) {
      linalg::GenericOp g = f.chain.back();
      Location loc = f.producers.front()->getLoc();
      if (f.producers.size() == 2)
        loc = pairLoc(loc, f.producers[1]->getLoc());
      auto yType = cast<RankedTensorType>(g->getResult(0).getType());
      int64_t rank = yType.getRank();
      // The consumers' bodies in order: the first on the rounded sums, each
      // next one on the previous value, other inputs read at the element's
      // [0, ..., 0, token or row, column]; at the kernel's location so that
      // the kernel keeps the producers' name.
      auto epilogue = [&](OpBuilder &b, Location, ArrayRef<Value> sums,
                          ValueRange coords) {
        Value v;
        for (auto [j, chained] : llvm::enumerate(f.chain)) {
          linalg::GenericOp c = chained;
          int64_t r = cast<RankedTensorType>(c.getType(0)).getRank();
          SmallVector<Value> at(r - 2, cIdx(b, loc, 0));
          at.append(coords.begin(), coords.end());
          Block &body = c.getRegion().front();
          IRMapping map;
          for (auto [i, input] : llvm::enumerate(c.getDpsInputs())) {
            Value arg;
            if (j == 0 && f.producerOf[i] >= 0)
              arg = sums[f.producerOf[i]];
            else if (j > 0 && i == f.chainInput[j])
              arg = v;
            else
              arg = tensor::ExtractOp::create(b, loc, input, at);
            map.map(body.getArgument(i), arg);
          }
          for (Operation &op : body.without_terminator())
            b.clone(op, map)->setLoc(loc);
          // A yielded value from outside the body is itself.
          v = map.lookupOrDefault(body.getTerminator()->getOperand(0));
        }
        return v;
      };
      auto tileType = RankedTensorType::get(yType.getShape().take_back(2),
                                            yType.getElementType());
      rewriter.setInsertionPoint(g);
      // For [1, ..., 1, M, N], the kernel writes a collapsed view of the
      // full-rank tensor, so that the reshapes fold away and a returned
      // result needs no copy.
      ReassociationIndices lead;
      for (int64_t d = 0; d < rank - 1; ++d)
        lead.push_back(d);
      SmallVector<ReassociationIndices> collapse = {lead, {rank - 1}};
      Value init;
      if (rank > 2)
        init = tensor::CollapseShapeOp::create(
            rewriter, loc,
            tensor::EmptyOp::create(rewriter, loc, yType.getShape(),
                                    yType.getElementType()),
            collapse);
      Value kernel;
      if (isa<LinearOp>(f.producers.front()))
        kernel = buildLinear(
            rewriter, loc,
            llvm::map_to_vector(f.producers,
                                [](Operation *p) { return cast<LinearOp>(p); }),
            tileType, epilogue, sharedMemory, init);
      else
        kernel = buildGroupedMatmul(
            rewriter, loc,
            llvm::map_to_vector(
                f.producers,
                [](Operation *p) { return cast<GroupedMatmulOp>(p); }),
            tileType, epilogue, sharedMemory, init);
      if (rank > 2)
        kernel = tensor::ExpandShapeOp::create(rewriter, g.getLoc(), yType,
                                               kernel, collapse);
      rewriter.replaceOp(g, kernel);
      // Back to front: each op's only use is the next one.
      for (size_t j = f.chain.size() - 1; j > 0; --j) {
        if (f.chainReshapes[j])
          rewriter.eraseOp(f.chainReshapes[j]);
        rewriter.eraseOp(f.chain[j - 1]);
      }
      for (Operation *r : f.reshapes)
        rewriter.eraseOp(r);
      for (Operation *p : f.producers)
        rewriter.eraseOp(p);
    }
    for (Operation *op : ops) {
      rewriter.setInsertionPoint(op);
      auto yType = cast<RankedTensorType>(op->getResult(0).getType());
      // A result only reshaped to [1, ..., 1, M, N] (a layer's output)
      // is written into a collapsed view of that shape, as for fusions, so
      // that returning it needs no copy.
      Value init;
      auto expand = dyn_cast_if_present<tensor::ExpandShapeOp>(
          op->hasOneUse() ? *op->getUsers().begin() : nullptr);
      if (expand && expand.getResultType().hasStaticShape() &&
          expand.getResultType().getShape().take_back(2) == yType.getShape() &&
          llvm::all_of(expand.getResultType().getShape().drop_back(2),
                       [](int64_t d) { return d == 1; }))
        init = tensor::CollapseShapeOp::create(
            rewriter, op->getLoc(),
            tensor::EmptyOp::create(rewriter, op->getLoc(),
                                    expand.getResultType().getShape(),
                                    yType.getElementType()),
            expand.getReassociationIndices());
      Value kernel =
          isa<LinearOp>(op)
              ? buildLinear(rewriter, op->getLoc(), {cast<LinearOp>(op)}, yType,
                            nullptr, sharedMemory, init)
              : buildGroupedMatmul(rewriter, op->getLoc(),
                                   {cast<GroupedMatmulOp>(op)}, yType, nullptr,
                                   sharedMemory, init);
      rewriter.replaceOp(op, kernel);
    }
  }
};

} // namespace
