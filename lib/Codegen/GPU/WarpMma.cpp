//===- WarpMma.cpp - a warp's 2-D vector tiles -> lanes and mma.sync ------===//
//
// The cuda strategy writes a warp's share of a tensor-core product as the
// warp's collective code: inside an scf.forall mapped to #gpu.warp, 2-D
// vector tiles are read from shared memory, widened to f32, combined by
// m16n8k16 `vector.contract`s into f32 accumulators, scaled and written
// back. That code has a meaning of its own, which cuda-sim runs as it
// stands (once per warp). On cuda, this pass distributes it over the warp's
// 32 lanes and turns each contract into one `nvvm.mma.sync`.
//
// The distribution is the register layout of mma.m16n8k16's fragments (PTX
// ISA, "Matrix Fragments for mma.m16n8k16"): an [8a, 8b] tile is a grid of
// 8 x 8 blocks, and lane l holds elements (l / 4, 2 (l % 4)) and
// (l / 4, 2 (l % 4) + 1) of each block, blocks taken column by column. A's
// a0..a7 are then the blocks (0,0), (1,0), (0,1), (1,1) of the [16, 16]
// (m, k) tile; B's b0..b3 the blocks (0,0), (0,1) of the [8, 16] (n, k)
// tile (B is column-major, so its rows are n); C's c0..c3 the blocks (0,0),
// (1,0) of the [16, 8] (m, n) tile. One layout serves all three roles, so
// elementwise ops act on each lane's pieces without exchanging anything,
// and every piece is two consecutive elements of a row: one load or store.
//
//===----------------------------------------------------------------------===//

#include "ForallKernels.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUWARPMMA
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;

namespace {

/// Rows and columns of a block of the layout.
constexpr int64_t kBlock = 8;

/// A 2-D vector the layout distributes: both sides multiples of 8.
VectorType tileType(Type t) {
  auto v = dyn_cast<VectorType>(t);
  if (!v || v.getRank() != 2 || v.isScalable() ||
      v.getDimSize(0) % kBlock != 0 || v.getDimSize(1) % kBlock != 0)
    return nullptr;
  return v;
}

bool hasTile(TypeRange types) {
  return llvm::any_of(types, [](Type t) { return tileType(t) != nullptr; });
}

int64_t pieceCount(VectorType tile) {
  return tile.getDimSize(0) / kBlock * (tile.getDimSize(1) / kBlock);
}

VectorType pieceType(VectorType tile) {
  return VectorType::get({2}, tile.getElementType());
}

/// Whether the 16-bit float type `narrow` (bf16 or f16) holds every value
/// of `elem` exactly: itself and both FP8 formats.
bool fitsIn(Type elem, Type narrow) {
  return elem == narrow || isa<Float8E4M3FNType, Float8E5M2Type>(elem);
}

/// The type of the values `v` was widened from (itself if not widened).
Type sourceElementType(Value v) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    return getElementTypeOrSelf(ext.getIn().getType());
  return getElementTypeOrSelf(v.getType());
}

struct Distributor {
  Distributor(RewriterBase &rewriter, Value group, Value pair)
      : rewriter(rewriter), group(group), pair(pair) {}

  RewriterBase &rewriter;
  /// The lane's row in a block (lane / 4) and the first of its pair of
  /// columns (2 (lane % 4)).
  Value group, pair;
  DenseMap<Value, SmallVector<Value>> pieces;
  /// Replaced ops, erased once all of their users are.
  SmallVector<Operation *> dead;

  /// The pieces of `v`, distributed before its use in `user` (at the
  /// rewriter's insertion point). A splat constant or a broadcast scalar
  /// from outside the warp's code (canonicalization hoists constants) is
  /// the same on every lane: it gets its pieces here.
  FailureOr<SmallVector<Value>> piecesOf(Operation *user, Value v) {
    auto it = pieces.find(v);
    if (it != pieces.end())
      return it->second;
    VectorType tile = tileType(v.getType());
    Location loc = user->getLoc();
    if (auto constant = v.getDefiningOp<arith::ConstantOp>()) {
      if (auto splat = dyn_cast<SplatElementsAttr>(constant.getValue());
          tile && splat) {
        Value piece = arith::ConstantOp::create(
            rewriter, loc,
            SplatElementsAttr::get(pieceType(tile),
                                   splat.getSplatValue<Attribute>()));
        return SmallVector<Value>(pieceCount(tile), piece);
      }
    }
    if (auto broadcast = v.getDefiningOp<vector::BroadcastOp>();
        tile && broadcast && !isa<VectorType>(broadcast.getSourceType())) {
      Value piece = vector::BroadcastOp::create(rewriter, loc, pieceType(tile),
                                                broadcast.getSource());
      return SmallVector<Value>(pieceCount(tile), piece);
    }
    return user->emitOpError("uses a warp tile that could not be distributed");
  }

  /// Row and column of piece `i`'s first element in a tile read at (r0, c0).
  std::pair<Value, Value> position(Location loc, VectorType tile, int64_t i,
                                   Value r0, Value c0) {
    int64_t rowBlocks = tile.getDimSize(0) / kBlock;
    int64_t rb = i % rowBlocks, cb = i / rowBlocks;
    auto offset = [&](Value base, Value lane, int64_t blockOffset) -> Value {
      Value v = isConstantIntValue(base, 0)
                    ? lane
                    : arith::AddIOp::create(rewriter, loc, base, lane);
      if (blockOffset == 0)
        return v;
      return arith::AddIOp::create(
          rewriter, loc, v,
          arith::ConstantIndexOp::create(rewriter, loc, blockOffset));
    };
    return {offset(r0, group, rb * kBlock), offset(c0, pair, cb * kBlock)};
  }

  /// In-bounds, unmasked, minor-identity 2-D transfers of a memref with a
  /// unit-stride last dimension.
  LogicalResult checkTransfer(VectorTransferOpInterface xfer) {
    auto memref = dyn_cast<MemRefType>(xfer.getBase().getType());
    if (!memref || xfer.getMask() ||
        !xfer.getPermutationMap().isMinorIdentity() || !xfer.isDimInBounds(0) ||
        !xfer.isDimInBounds(1) || !memref.isLastDimUnitStride())
      return xfer->emitOpError(
          "distributes over lanes only as an in-bounds, unmasked, "
          "minor-identity transfer of a memref with unit-stride rows");
    return success();
  }

  /// A read the pair loads cannot do, element by element: of a memref
  /// whose last two dimensions the tile reads transposed (an [n, k] operand
  /// from a [k, n] array, e.g. a cache's rows as columns), or that may run
  /// past a dimension (transfer_read's `in_bounds = false`: an element
  /// there is the padding, and nothing past it is read).
  bool isElementwiseRead(vector::TransferReadOp read) {
    auto memref = dyn_cast<MemRefType>(read.getBase().getType());
    AffineMap map = read.getPermutationMap();
    if (!memref || read.getMask() || memref.getRank() < 2 ||
        map.getNumResults() != 2)
      return false;
    unsigned rank = memref.getRank();
    bool minor = map.isMinorIdentity();
    bool transposed =
        map.getResult(0) == getAffineDimExpr(rank - 1, read.getContext()) &&
        map.getResult(1) == getAffineDimExpr(rank - 2, read.getContext());
    return transposed || (minor && read.hasOutOfBoundsDim());
  }

  LogicalResult readElements(vector::TransferReadOp read, VectorType tile) {
    Location loc = read.getLoc();
    AffineMap map = read.getPermutationMap();
    unsigned rank = read.getBase().getType().getRank();
    bool transposed = !map.isMinorIdentity();
    SmallVector<Value> out;
    for (int64_t i = 0; i < pieceCount(tile); ++i) {
      SmallVector<Value> idx(read.getIndices());
      auto [row, col] = position(loc, tile, i, cIdx(loc, 0), cIdx(loc, 0));
      SmallVector<Value> elems;
      for (int64_t e = 0; e < 2; ++e) {
        Value c = e == 0
                      ? col
                      : arith::AddIOp::create(rewriter, loc, col, cIdx(loc, 1))
                            .getResult();
        // Vector dims (row, c) read memref dims (rank-2, rank-1), or
        // (rank-1, rank-2) when transposed.
        SmallVector<Value> at(idx);
        Value offsets[2] = {row, c};
        Value cond;
        for (unsigned v = 0; v < 2; ++v) {
          unsigned dim = transposed ? rank - 1 - v : rank - 2 + v;
          at[dim] = arith::AddIOp::create(rewriter, loc, idx[dim], offsets[v]);
          if (read.isDimInBounds(v))
            continue;
          Value size = memref::DimOp::create(rewriter, loc, read.getBase(),
                                             static_cast<int64_t>(dim));
          Value inside = arith::CmpIOp::create(
              rewriter, loc, arith::CmpIPredicate::slt, at[dim], size);
          cond = cond ? arith::AndIOp::create(rewriter, loc, cond, inside)
                            .getResult()
                      : inside;
        }
        Value v;
        if (!cond) {
          v = memref::LoadOp::create(rewriter, loc, read.getBase(), at)
                  .getResult();
        } else {
          // Past a dimension: the padding, and no load.
          v = scf::IfOp::create(
                  rewriter, loc, cond,
                  [&](OpBuilder &b, Location loc) {
                    scf::YieldOp::create(
                        b, loc,
                        memref::LoadOp::create(b, loc, read.getBase(), at)
                            .getResult());
                  },
                  [&](OpBuilder &b, Location loc) {
                    scf::YieldOp::create(b, loc, read.getPadding());
                  })
                  .getResult(0);
        }
        elems.push_back(v);
      }
      out.push_back(vector::FromElementsOp::create(rewriter, loc,
                                                   pieceType(tile), elems));
    }
    pieces[read.getResult()] = out;
    return success();
  }

  Value cIdx(Location loc, int64_t v) {
    return arith::ConstantIndexOp::create(rewriter, loc, v);
  }

  SmallVector<Value> pieceIndices(Location loc, VectorTransferOpInterface xfer,
                                  VectorType tile, int64_t i) {
    SmallVector<Value> idx(xfer.getIndices());
    size_t n = idx.size();
    auto [row, col] = position(loc, tile, i, idx[n - 2], idx[n - 1]);
    idx[n - 2] = row;
    idx[n - 1] = col;
    return idx;
  }

  llvm::MaybeAlign pieceAlignment(Value memref, VectorType piece,
                                  ValueRange idx) {
    int64_t bytes = piece.getElementTypeBitWidth() / 8;
    return accessAlignment(memref, piece, idx, /*least=*/2 * bytes);
  }

  LogicalResult contract(vector::ContractionOp op) {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto lhs = tileType(op.getLhsType()), rhs = tileType(op.getRhsType());
    auto acc = tileType(op.getAccType());
    AffineExpr m, n, k;
    bindDims(ctx, m, n, k);
    auto maps = AffineMap::inferFromExprList(
        ArrayRef<ArrayRef<AffineExpr>>{{m, k}, {n, k}, {m, n}}, ctx);
    auto shapeIs = [](VectorType t, int64_t r, int64_t c) {
      return t && t.getDimSize(0) == r && t.getDimSize(1) == c;
    };
    if (op.getIndexingMapsArray() != maps ||
        op.getKind() != vector::CombiningKind::ADD || !shapeIs(lhs, 16, 16) ||
        !shapeIs(rhs, 8, 16) || !shapeIs(acc, 16, 8) ||
        !acc.getElementType().isF32())
      return op.emitOpError(
          "becomes mma.sync only as an m16n8k16 product "
          "[16, 16] (m, k) x [8, 16] (n, k) -> [16, 8] f32 (m, n)");
    // The products are exact in f32 when both operands are 16-bit floats
    // (or widened from them, or from FP8): the tensor core multiplies those.
    Type a = sourceElementType(op.getLhs()), b = sourceElementType(op.getRhs());
    Type narrow;
    NVVM::MMATypes ptx;
    if (fitsIn(a, BFloat16Type::get(ctx)) &&
        fitsIn(b, BFloat16Type::get(ctx))) {
      narrow = BFloat16Type::get(ctx);
      ptx = NVVM::MMATypes::bf16;
    } else if (fitsIn(a, Float16Type::get(ctx)) &&
               fitsIn(b, Float16Type::get(ctx))) {
      narrow = Float16Type::get(ctx);
      ptx = NVVM::MMATypes::f16;
    } else {
      return op.emitOpError("becomes mma.sync only when both operands hold "
                            "bf16, f16 or FP8 values");
    }
    auto operand = [&](Value piece) -> Value {
      auto type = VectorType::get({2}, narrow);
      if (cast<VectorType>(piece.getType()) != type)
        piece = arith::TruncFOp::create(rewriter, loc, type, piece);
      if (narrow.isBF16())
        return LLVM::BitcastOp::create(rewriter, loc, rewriter.getI32Type(),
                                       piece);
      return piece;
    };
    FailureOr<SmallVector<Value>> pa = piecesOf(op, op.getLhs()),
                                  pb = piecesOf(op, op.getRhs()),
                                  pc = piecesOf(op, op.getAcc());
    if (failed(pa) || failed(pb) || failed(pc))
      return failure();
    SmallVector<Value> opA, opB, opC;
    for (Value p : *pa)
      opA.push_back(operand(p));
    for (Value p : *pb)
      opB.push_back(operand(p));
    for (Value p : *pc)
      for (int64_t e = 0; e < 2; ++e)
        opC.push_back(vector::ExtractOp::create(rewriter, loc, p, e));
    Type f32 = rewriter.getF32Type();
    auto result = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
    auto mma =
        NVVM::MmaOp::create(rewriter, loc, result, opA, opB, opC, {16, 8, 16},
                            /*b1Op=*/std::nullopt, /*intOverflow=*/std::nullopt,
                            std::array<NVVM::MMATypes, 2>{ptx, ptx},
                            std::array<NVVM::MMALayout, 2>{
                                NVVM::MMALayout::row, NVVM::MMALayout::col});
    SmallVector<Value> d;
    for (int64_t e = 0; e < 4; ++e)
      d.push_back(LLVM::ExtractValueOp::create(rewriter, loc, mma, e));
    auto pairType = VectorType::get({2}, f32);
    pieces[op.getResult()] = {
        vector::FromElementsOp::create(rewriter, loc, pairType,
                                       ValueRange{d[0], d[1]}),
        vector::FromElementsOp::create(rewriter, loc, pairType,
                                       ValueRange{d[2], d[3]})};
    return success();
  }

  /// One op with tiles among its operands or results.
  LogicalResult distribute(Operation *op) {
    Location loc = op->getLoc();
    rewriter.setInsertionPoint(op);
    if (auto read = dyn_cast<vector::TransferReadOp>(op)) {
      VectorType tile = tileType(read.getVectorType());
      if (tile && isElementwiseRead(read))
        return readElements(read, tile);
      if (!tile || failed(checkTransfer(read)))
        return failure();
      SmallVector<Value> out;
      for (int64_t i = 0; i < pieceCount(tile); ++i) {
        SmallVector<Value> idx = pieceIndices(loc, read, tile, i);
        VectorType piece = pieceType(tile);
        out.push_back(vector::LoadOp::create(
            rewriter, loc, piece, read.getBase(), idx, /*nontemporal=*/false,
            pieceAlignment(read.getBase(), piece, idx)));
      }
      pieces[read.getResult()] = out;
      return success();
    }
    if (auto write = dyn_cast<vector::TransferWriteOp>(op)) {
      VectorType tile = tileType(write.getVectorType());
      if (!tile || write.getResult() || failed(checkTransfer(write)))
        return write.emitOpError(
            "distributes over lanes only as a write of a tile to a memref");
      FailureOr<SmallVector<Value>> in = piecesOf(op, write.getVector());
      if (failed(in))
        return failure();
      for (int64_t i = 0; i < pieceCount(tile); ++i) {
        SmallVector<Value> idx = pieceIndices(loc, write, tile, i);
        vector::StoreOp::create(
            rewriter, loc, (*in)[i], write.getBase(), idx,
            /*nontemporal=*/false,
            pieceAlignment(write.getBase(), pieceType(tile), idx));
      }
      return success();
    }
    if (auto contraction = dyn_cast<vector::ContractionOp>(op))
      return contract(contraction);
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      VectorType tile = tileType(constant.getType());
      auto splat = dyn_cast<SplatElementsAttr>(constant.getValue());
      if (!tile || !splat)
        return op->emitOpError("distributes over lanes only as a splat");
      Value piece = arith::ConstantOp::create(
          rewriter, loc,
          SplatElementsAttr::get(pieceType(tile),
                                 splat.getSplatValue<Attribute>()));
      pieces[constant.getResult()] =
          SmallVector<Value>(pieceCount(tile), piece);
      return success();
    }
    if (auto broadcast = dyn_cast<vector::BroadcastOp>(op)) {
      VectorType tile = tileType(broadcast.getResultVectorType());
      if (!tile || isa<VectorType>(broadcast.getSourceType()))
        return op->emitOpError(
            "distributes over lanes only as a broadcast of a scalar");
      Value piece = vector::BroadcastOp::create(rewriter, loc, pieceType(tile),
                                                broadcast.getSource());
      pieces[broadcast.getResult()] =
          SmallVector<Value>(pieceCount(tile), piece);
      return success();
    }
    // Elementwise ops act on each piece (a select's condition may be a
    // scalar, which every piece shares).
    if (op->hasTrait<OpTrait::Elementwise>() && op->getNumResults() == 1 &&
        op->getNumRegions() == 0) {
      VectorType tile = tileType(op->getResult(0).getType());
      if (!tile)
        return op->emitOpError("distributes over lanes only with tile results");
      SmallVector<SmallVector<Value>> operandPieces;
      for (Value v : op->getOperands()) {
        if (!isa<VectorType>(v.getType())) {
          operandPieces.push_back(SmallVector<Value>(pieceCount(tile), v));
          continue;
        }
        auto vt = tileType(v.getType());
        if (!vt || vt.getShape() != tile.getShape())
          return op->emitOpError(
              "distributes over lanes only with operands of its result's "
              "shape");
        FailureOr<SmallVector<Value>> in = piecesOf(op, v);
        if (failed(in))
          return failure();
        operandPieces.push_back(*in);
      }
      SmallVector<Value> out;
      for (int64_t i = 0; i < pieceCount(tile); ++i) {
        OperationState state(loc, op->getName());
        for (auto &p : operandPieces)
          state.addOperands(p[i]);
        state.addTypes(pieceType(tile));
        state.addAttributes(op->getAttrs());
        out.push_back(rewriter.create(state)->getResult(0));
      }
      pieces[op->getResult(0)] = out;
      return success();
    }
    return op->emitOpError("is not distributable over a warp's lanes");
  }

  /// An scf.for carrying tiles carries their pieces instead.
  LogicalResult distributeLoop(scf::ForOp loop) {
    Location loc = loop.getLoc();
    rewriter.setInsertionPoint(loop);
    SmallVector<Value> inits;
    SmallVector<int64_t> widths;
    for (Value init : loop.getInitArgs()) {
      if (!tileType(init.getType())) {
        inits.push_back(init);
        widths.push_back(0);
        continue;
      }
      FailureOr<SmallVector<Value>> in = piecesOf(loop, init);
      if (failed(in))
        return failure();
      llvm::append_range(inits, *in);
      widths.push_back(in->size());
    }
    auto next = scf::ForOp::create(rewriter, loc, loop.getLowerBound(),
                                   loop.getUpperBound(), loop.getStep(), inits);
    Block *body = next.getBody();
    // The new body's (empty) yield goes: the old body's ops move over.
    if (!body->empty())
      rewriter.eraseOp(body->getTerminator());
    Block *old = loop.getBody();
    rewriter.replaceAllUsesWith(loop.getInductionVar(), next.getInductionVar());
    auto regrouped = [&](ValueRange flat) {
      SmallVector<std::pair<Value, SmallVector<Value>>> groups;
      int64_t at = 0;
      for (int64_t w : widths) {
        int64_t size = w == 0 ? 1 : w;
        groups.push_back(
            {flat[at], SmallVector<Value>(flat.slice(at, size).begin(),
                                          flat.slice(at, size).end())});
        at += size;
      }
      return groups;
    };
    auto argGroups = regrouped(next.getRegionIterArgs());
    for (auto [oldArg, group, w] :
         llvm::zip_equal(loop.getRegionIterArgs(), argGroups, widths)) {
      if (w == 0)
        rewriter.replaceAllUsesWith(oldArg, group.first);
      else
        pieces[oldArg] = group.second;
    }
    body->getOperations().splice(body->end(), old->getOperations());
    dead.push_back(loop);
    auto yield = cast<scf::YieldOp>(body->getTerminator());
    if (failed(distributeBlock(*body)))
      return failure();
    SmallVector<Value> yielded;
    for (Value v : yield.getOperands()) {
      if (!tileType(v.getType())) {
        yielded.push_back(v);
        continue;
      }
      FailureOr<SmallVector<Value>> in = piecesOf(yield, v);
      if (failed(in))
        return failure();
      llvm::append_range(yielded, *in);
    }
    rewriter.setInsertionPoint(yield);
    scf::YieldOp::create(rewriter, yield.getLoc(), yielded);
    rewriter.eraseOp(yield);
    auto resultGroups = regrouped(next.getResults());
    for (auto [oldResult, group, w] :
         llvm::zip_equal(loop.getResults(), resultGroups, widths)) {
      if (w == 0)
        rewriter.replaceAllUsesWith(oldResult, group.first);
      else
        pieces[oldResult] = group.second;
    }
    return success();
  }

  LogicalResult distributeBlock(Block &block) {
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (op.hasTrait<OpTrait::IsTerminator>())
        continue;
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        // A loop carrying tiles carries their pieces; any other loop (the
        // same on every lane) keeps its form around its distributed body.
        if (failed(hasTile(loop.getResultTypes())
                       ? distributeLoop(loop)
                       : distributeBlock(*loop.getBody())))
          return failure();
        continue;
      }
      // So does a branch without tile results (taken by the whole warp).
      if (auto branch = dyn_cast<scf::IfOp>(op);
          branch && !hasTile(branch.getResultTypes())) {
        for (Region &region : branch->getRegions())
          for (Block &inner : region)
            if (failed(distributeBlock(inner)))
              return failure();
        continue;
      }
      bool tiles =
          hasTile(op.getOperandTypes()) || hasTile(op.getResultTypes());
      if (!tiles && op.getNumRegions() != 0) {
        WalkResult inner = op.walk([&](Operation *nested) {
          return hasTile(nested->getResultTypes()) ? WalkResult::interrupt()
                                                   : WalkResult::advance();
        });
        if (inner.wasInterrupted())
          return op.emitOpError(
              "holds warp tiles in a region this pass does not distribute");
      }
      if (!tiles)
        continue;
      if (failed(distribute(&op)))
        return failure();
      dead.push_back(&op);
    }
    return success();
  }
};

struct Dsv3GPUWarpMma : dsv3::impl::Dsv3GPUWarpMmaBase<Dsv3GPUWarpMma> {
  void runOnOperation() override {
    SmallVector<scf::ForallOp> warps;
    getOperation()->walk([&](scf::ForallOp forall) {
      if (isWarpForall(forall))
        warps.push_back(forall);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ForallOp forall : warps) {
      if (forall.getNumResults() != 0) {
        forall.emitOpError("distributes over lanes only once bufferized");
        return signalPassFailure();
      }
      Block *body = forall.getBody();
      Location loc = forall.getLoc();
      rewriter.setInsertionPointToStart(body);
      Value lane =
          gpu::LaneIdOp::create(rewriter, loc, /*upper_bound=*/nullptr);
      Value four = arith::ConstantIndexOp::create(rewriter, loc, 4);
      Value pair = arith::MulIOp::create(
          rewriter, loc, arith::RemUIOp::create(rewriter, loc, lane, four),
          arith::ConstantIndexOp::create(rewriter, loc, 2));
      Distributor d(rewriter, arith::DivUIOp::create(rewriter, loc, lane, four),
                    pair);
      if (failed(d.distributeBlock(*body)))
        return signalPassFailure();
      for (Operation *op : llvm::reverse(d.dead)) {
        op->dropAllUses();
        rewriter.eraseOp(op);
      }
    }
  }
};

} // namespace
