//===- AbsorbedHeads.cpp - cuda strategy: per-head products with FP8 kv_b -===//
//
// Absorbed MLA multiplies by kv_b_proj per head twice: q_nope · W_UK (the
// sum runs over the weight slice's rows) and o_lat · W_UVᵀ (over its
// columns). The definition dequantizes all of kv_b_proj into a fresh bf16
// buffer (32 MiB at V3's sizes, one 65536-block kernel) on every call and
// then runs two contractions with one thread per output. Here each product
// is one kernel that reads the FP8 codes (8 MiB per product) and rounds each
// dequantized element to the dequantized type as the definition does:
//
//  * W_UK: a block per head; thread (q, x) sums rows q·n/Q .. (q+1)·n/Q - 1
//    for the 8 columns 8x .. 8x + 7 (a warp reads 256 contiguous code bytes
//    per row) into shared partials; then thread x adds the Q partials in
//    order.
//  * W_UVᵀ: a block per (head, 8 weight rows), a warp per row: lane l reads
//    the 8 codes at c = 8 l + 256 i and keeps a partial dot product per
//    token; then thread (row, token) adds the 32 lane sums in order.
//
//===----------------------------------------------------------------------===//

#include "../Common/AbsorbedHeads.h"
#include "../Host/KernelBuilders.h"
#include "ForallKernels.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/Support/CheckedArithmetic.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUABSORBEDHEADS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;
using host::cIdx;

namespace {

constexpr int64_t kVec = 8;
constexpr int64_t kWarp = 32;
/// W_UVᵀ: weight rows (warps) per block.
constexpr int64_t kRowsPerBlock = 8;
/// Shared memory the W_UK partials may take.
constexpr int64_t kMaxPartialBytes = 48 * 1024;

VectorType vecF32(OpBuilder &b) {
  return VectorType::get({kVec}, b.getF32Type());
}

Value zeroVec(OpBuilder &b, Location loc) {
  return arith::ConstantOp::create(b, loc, vecF32(b),
                                   DenseElementsAttr::get(vecF32(b), 0.0f));
}

/// The dequantized weights [row, c .. c + 8) in f32: f32(code) · scale
/// (exact widening, one f32 rounding) rounded to the dequantized type and
/// widened back, as dsv3.dequantize and the definition's products compute.
Value dequantized(OpBuilder &b, Location loc, const HeadWeight &w, Value row,
                  Value c) {
  Type codeElem = cast<ShapedType>(w.codes.getType()).getElementType();
  Value pad =
      arith::ConstantOp::create(b, loc, codeElem, b.getZeroAttr(codeElem));
  Value codes = vector::TransferReadOp::create(
      b, loc, VectorType::get({kVec}, codeElem), w.codes, ValueRange{row, c},
      pad, ArrayRef<bool>{true});
  Value v = arith::ExtFOp::create(b, loc, vecF32(b), codes);
  Value block = cIdx(b, loc, kAbsorbedHeadsBlock);
  Value s = tensor::ExtractOp::create(
      b, loc, w.scale,
      ValueRange{arith::DivUIOp::create(b, loc, row, block),
                 arith::DivUIOp::create(b, loc, c, block)});
  v = arith::MulFOp::create(b, loc, v,
                            vector::BroadcastOp::create(b, loc, vecF32(b), s));
  if (!w.elem.isF32()) {
    v = arith::TruncFOp::create(b, loc, VectorType::get({kVec}, w.elem), v);
    v = arith::ExtFOp::create(b, loc, vecF32(b), v);
  }
  return v;
}

/// `v` [B, S, H, N] viewed as [B·S, H, N].
Value tokensFirst(OpBuilder &b, Location loc, Value v) {
  return tensor::CollapseShapeOp::create(
      b, loc, v, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

/// An elementwise consumer the kernel applies to each f32 sum before it
/// writes it (the absorbed decomposition's cast to the activation type), or
/// null: the sums are written as they are.
struct Epilogue {
  mutable linalg::GenericOp op;
  Type elem(Type f32) const {
    return op ? getElementTypeOrSelf(op.getResult(0).getType()) : f32;
  }
  Value apply(OpBuilder &b, Location loc, Value sum) const {
    if (!op)
      return sum;
    Block &body = op.getRegion().front();
    IRMapping map;
    map.map(body.getArgument(0), sum);
    for (Operation &inner : body.without_terminator())
      b.clone(inner, map);
    return map.lookupOrDefault(body.getTerminator()->getOperand(0));
  }
};

/// The only use of `product` if it is a linalg.generic that just maps each
/// element (one input, identity maps, all parallel, a body of
/// side-effect-free ops on its input alone), which the kernel can apply as
/// it writes; else null.
linalg::GenericOp elementwiseConsumer(linalg::GenericOp product) {
  Value r = product.getResult(0);
  if (!r.hasOneUse())
    return nullptr;
  auto g = dyn_cast<linalg::GenericOp>(*r.getUsers().begin());
  if (!g || g.getNumDpsInputs() != 1 || g.getNumDpsInits() != 1 ||
      g.getDpsInputs()[0] != r || g.getNumResults() != 1 ||
      cast<ShapedType>(g.getResult(0).getType()).getShape() !=
          cast<ShapedType>(r.getType()).getShape() ||
      g.getNumParallelLoops() != g.getNumLoops() ||
      !llvm::all_of(g.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return nullptr;
  Block &body = g.getRegion().front();
  if (!body.getArgument(1).use_empty())
    return nullptr;
  for (Operation &inner : body.without_terminator()) {
    if (!isMemoryEffectFree(&inner) || inner.getNumRegions() != 0 ||
        isa<linalg::IndexOp>(inner))
      return nullptr;
    for (Value v : inner.getOperands())
      if (v.getParentBlock() != &body)
        return nullptr;
  }
  Value yielded = body.getTerminator()->getOperand(0);
  if (yielded.getParentBlock() != &body)
    return nullptr;
  return g;
}

/// What one launch moves and computes: the heads' slices of the FP8 codes
/// (and the matching share of the scales' rows) instead of the whole
/// kv_b_proj the kernel is given, the activations and the result once;
/// 2 flops per product.
void setCost(Value result, const HeadWeight &w, int64_t tokens) {
  auto forall = result.getDefiningOp<scf::ForallOp>();
  std::optional<int64_t> bytes =
      gpu_kernels::operandBytes(forall, {w.codes, w.scale});
  std::optional<int64_t> scales =
      gpu_kernels::typeBytes(cast<ShapedType>(w.scale.getType()));
  // One byte per code.
  std::optional<int64_t> codes =
      gpu_kernels::checkedProduct({w.heads, w.rows, w.cols});
  std::optional<int64_t> share =
      scales ? gpu_kernels::checkedProduct({*scales, w.rows}) : std::nullopt;
  if (!codes || !share)
    bytes.reset();
  if (bytes)
    bytes = llvm::checkedAdd(*bytes, *codes);
  if (bytes)
    bytes = llvm::checkedAdd(*bytes, *share / w.rowsPerHead);
  gpu_kernels::setKernelCost(
      forall, {bytes, codes ? gpu_kernels::checkedProduct({2, tokens, *codes})
                            : std::nullopt});
}

/// q_nope · W_UK: out[t, h, c] = Σ_j x[t, h, j] · W[h·P + off + j, c].
Value buildOverRows(OpBuilder &b, Location loc, linalg::GenericOp op,
                    const HeadWeight &w, bool sharedMemory,
                    const Epilogue &epilogue) {
  Type f32 = b.getF32Type(), yElem = epilogue.elem(f32);
  auto outType = RankedTensorType::get(
      cast<RankedTensorType>(op.getResult(0).getType()).getShape(), yElem);
  int64_t m = outType.getDimSize(0) * outType.getDimSize(1);
  int64_t n = w.rows, c8 = w.cols / kVec;
  int64_t splits = 1;
  for (int64_t q : {4, 2})
    if (n % q == 0 && q * c8 <= 1024 &&
        q * m * w.cols * 4 <= kMaxPartialBytes) {
      splits = q;
      break;
    }
  const int64_t perSplit = n / splits;
  Value x = tokensFirst(b, loc, op.getDpsInputs()[0]);
  // The result [B, S, H, C] as [B·S, H, C/8, 8], so a thread's 8 columns
  // of every token are one slice.
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), yElem);
  init = tokensFirst(b, loc, init);
  SmallVector<ReassociationIndices> split8 = {{0}, {1}, {2, 3}};
  auto out4 = RankedTensorType::get({m, w.heads, c8, kVec}, yElem);
  init = tensor::ExpandShapeOp::create(b, loc, out4, init, split8);
  Value result = mappedForall(
      b, loc, {w.heads}, {gpu::MappingId::DimX}, /*blocks=*/true, {init},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        Value h = ivs[0];
        Value rowBase = arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(b, loc, h, cIdx(b, loc, w.rowsPerHead)),
            cIdx(b, loc, w.offset));
        // Phase 1, thread (q, x): rows of split q, columns 8x .. 8x + 7.
        Value partials = mappedForall(
            b, loc, {splits, c8}, {gpu::MappingId::DimY, gpu::MappingId::DimX},
            /*blocks=*/false,
            {sharedBuffer(b, loc, {splits, m, c8, kVec}, f32, sharedMemory)},
            [&](OpBuilder &b, Location loc, ValueRange tv, ValueRange touts) {
              Value q = tv[0], xIdx = tv[1];
              Value c = arith::MulIOp::create(b, loc, xIdx, cIdx(b, loc, kVec));
              Value j0 =
                  arith::MulIOp::create(b, loc, q, cIdx(b, loc, perSplit));
              auto rowsLoop = scf::ForOp::create(
                  b, loc, cIdx(b, loc, 0), cIdx(b, loc, perSplit),
                  cIdx(b, loc, 1), SmallVector<Value>(m, zeroVec(b, loc)),
                  [&](OpBuilder &b, Location loc, Value dj, ValueRange it) {
                    Value j = arith::AddIOp::create(b, loc, j0, dj);
                    Value wv = dequantized(
                        b, loc, w, arith::AddIOp::create(b, loc, rowBase, j),
                        c);
                    SmallVector<Value> next;
                    for (int64_t t = 0; t < m; ++t) {
                      Value xs = toF32(
                          b, loc,
                          tensor::ExtractOp::create(
                              b, loc, x, ValueRange{cIdx(b, loc, t), h, j}));
                      next.push_back(arith::AddFOp::create(
                          b, loc, it[t],
                          arith::MulFOp::create(b, loc,
                                                vector::BroadcastOp::create(
                                                    b, loc, vecF32(b), xs),
                                                wv)));
                    }
                    scf::YieldOp::create(b, loc, next);
                  });
              Slot at{Value(),
                      {q, b.getIndexAttr(0), xIdx, b.getIndexAttr(0)},
                      indexAttrs(b, {1, m, 1, kVec}),
                      indexAttrs(b, {1, 1, 1, 1})};
              Value part = extractSlot(
                  b, loc, RankedTensorType::get({m, kVec}, f32), touts[0], at);
              for (int64_t t = 0; t < m; ++t)
                for (int64_t l = 0; l < kVec; ++l)
                  part = tensor::InsertOp::create(
                      b, loc,
                      vector::ExtractOp::create(b, loc, rowsLoop.getResult(t),
                                                l),
                      part, ValueRange{cIdx(b, loc, t), cIdx(b, loc, l)});
              at.part = part;
              return SmallVector<Slot>{at};
            })[0];
        // Phase 2, thread x: the splits' partials added in order.
        Slot blockAt{
            Value(),
            {b.getIndexAttr(0), h, b.getIndexAttr(0), b.getIndexAttr(0)},
            indexAttrs(b, {m, 1, c8, kVec}),
            indexAttrs(b, {1, 1, 1, 1})};
        Value tile =
            extractSlot(b, loc, RankedTensorType::get({m, c8, kVec}, yElem),
                        outs[0], blockAt);
        blockAt.part = mappedForall(
            b, loc, {c8}, {gpu::MappingId::DimX}, /*blocks=*/false, {tile},
            [&](OpBuilder &b, Location loc, ValueRange tv, ValueRange touts) {
              Value xIdx = tv[0];
              Slot at{Value(),
                      {b.getIndexAttr(0), xIdx, b.getIndexAttr(0)},
                      indexAttrs(b, {m, 1, kVec}),
                      indexAttrs(b, {1, 1, 1})};
              Value part =
                  extractSlot(b, loc, RankedTensorType::get({m, kVec}, yElem),
                              touts[0], at);
              for (int64_t t = 0; t < m; ++t) {
                Value ct = cIdx(b, loc, t);
                for (int64_t l = 0; l < kVec; ++l) {
                  Value cl = cIdx(b, loc, l);
                  Value sum = tensor::ExtractOp::create(
                      b, loc, partials,
                      ValueRange{cIdx(b, loc, 0), ct, xIdx, cl});
                  for (int64_t q = 1; q < splits; ++q)
                    sum = arith::AddFOp::create(
                        b, loc, sum,
                        tensor::ExtractOp::create(
                            b, loc, partials,
                            ValueRange{cIdx(b, loc, q), ct, xIdx, cl}));
                  part = tensor::InsertOp::create(b, loc,
                                                  epilogue.apply(b, loc, sum),
                                                  part, ValueRange{ct, cl});
                }
              }
              at.part = part;
              return SmallVector<Slot>{at};
            })[0];
        return SmallVector<Slot>{blockAt};
      })[0];
  setCost(result, w, m);
  result = tensor::CollapseShapeOp::create(b, loc, result, split8);
  return tensor::ExpandShapeOp::create(
      b, loc, outType, result,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

/// o_lat · W_UVᵀ: out[t, h, v] = Σ_c x[t, h, c] · W[h·P + off + v, c].
Value buildOverCols(OpBuilder &b, Location loc, linalg::GenericOp op,
                    const HeadWeight &w, bool sharedMemory,
                    const Epilogue &epilogue) {
  Type f32 = b.getF32Type(), yElem = epilogue.elem(f32);
  auto outType = RankedTensorType::get(
      cast<RankedTensorType>(op.getResult(0).getType()).getShape(), yElem);
  int64_t m = outType.getDimSize(0) * outType.getDimSize(1);
  int64_t n = w.rows, cols = w.cols;
  int64_t rows = kRowsPerBlock;
  while (n % rows != 0)
    rows /= 2;
  // Lane l reads columns 8 l + 256 i for i < steps (the last guarded).
  const int64_t stride = kVec * kWarp, steps = llvm::divideCeil(cols, stride);
  Value x = tokensFirst(b, loc, op.getDpsInputs()[0]);
  Value init = tensor::EmptyOp::create(b, loc, outType.getShape(), yElem);
  init = tokensFirst(b, loc, init);
  Value result = mappedForall(
      b, loc, {n / rows, w.heads}, {gpu::MappingId::DimX, gpu::MappingId::DimY},
      /*blocks=*/true, {init},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        Value v0 = arith::MulIOp::create(b, loc, ivs[0], cIdx(b, loc, rows));
        Value h = ivs[1];
        Value rowBase = arith::AddIOp::create(
            b, loc,
            arith::AddIOp::create(
                b, loc,
                arith::MulIOp::create(b, loc, h, cIdx(b, loc, w.rowsPerHead)),
                cIdx(b, loc, w.offset)),
            v0);
        // Phase 1, thread (row r, lane): the lane's partial dot products.
        Value partials = mappedForall(
            b, loc, {rows, kWarp}, {gpu::MappingId::DimY, gpu::MappingId::DimX},
            /*blocks=*/false,
            {sharedBuffer(b, loc, {rows, kWarp, m}, f32, sharedMemory)},
            [&](OpBuilder &b, Location loc, ValueRange tv, ValueRange touts) {
              Value r = tv[0], lane = tv[1];
              Value row = arith::AddIOp::create(b, loc, rowBase, r);
              Value first =
                  arith::MulIOp::create(b, loc, lane, cIdx(b, loc, kVec));
              SmallVector<Value> acc(m, zeroVec(b, loc));
              for (int64_t i = 0; i < steps; ++i) {
                Value c = arith::AddIOp::create(b, loc, first,
                                                cIdx(b, loc, i * stride));
                auto step = [&](OpBuilder &b, Location loc) {
                  Value wv = dequantized(b, loc, w, row, c);
                  SmallVector<Value> next;
                  for (int64_t t = 0; t < m; ++t) {
                    Type xElem = cast<ShapedType>(x.getType()).getElementType();
                    Value pad = arith::ConstantOp::create(b, loc, xElem,
                                                          b.getZeroAttr(xElem));
                    Value xv = toF32(b, loc,
                                     vector::TransferReadOp::create(
                                         b, loc, VectorType::get({kVec}, xElem),
                                         x, ValueRange{cIdx(b, loc, t), h, c},
                                         pad, ArrayRef<bool>{true}));
                    next.push_back(arith::AddFOp::create(
                        b, loc, acc[t], arith::MulFOp::create(b, loc, xv, wv)));
                  }
                  return next;
                };
                if ((i + 1) * stride <= cols) {
                  acc = step(b, loc);
                  continue;
                }
                Value inside = arith::CmpIOp::create(
                    b, loc, arith::CmpIPredicate::ult, c, cIdx(b, loc, cols));
                SmallVector<Type> types(m, vecF32(b));
                auto guard = scf::IfOp::create(b, loc, types, inside,
                                               /*withElseRegion=*/true);
                {
                  OpBuilder::InsertionGuard g(b);
                  b.setInsertionPointToStart(guard.thenBlock());
                  scf::YieldOp::create(b, loc, step(b, loc));
                  b.setInsertionPointToStart(guard.elseBlock());
                  scf::YieldOp::create(b, loc, acc);
                }
                acc = SmallVector<Value>(guard.getResults());
              }
              Slot at{Value(),
                      {r, lane, b.getIndexAttr(0)},
                      indexAttrs(b, {1, 1, m}),
                      indexAttrs(b, {1, 1, 1})};
              Value part = extractSlot(b, loc, RankedTensorType::get({m}, f32),
                                       touts[0], at);
              for (int64_t t = 0; t < m; ++t)
                part = tensor::InsertOp::create(
                    b, loc,
                    vector::ReductionOp::create(
                        b, loc, vector::CombiningKind::ADD, acc[t]),
                    part, ValueRange{cIdx(b, loc, t)});
              at.part = part;
              return SmallVector<Slot>{at};
            })[0];
        // Phase 2, thread (row r, token t): the 32 lane sums in order.
        Slot blockAt{Value(),
                     {b.getIndexAttr(0), h, v0},
                     indexAttrs(b, {m, 1, rows}),
                     indexAttrs(b, {1, 1, 1})};
        Value tile = extractSlot(
            b, loc, RankedTensorType::get({m, rows}, yElem), outs[0], blockAt);
        blockAt.part = mappedForall(
            b, loc, {rows, m}, {gpu::MappingId::DimY, gpu::MappingId::DimX},
            /*blocks=*/false, {tile},
            [&](OpBuilder &b, Location loc, ValueRange tv, ValueRange touts) {
              Value r = tv[0], t = tv[1];
              Value sum =
                  scf::ForOp::create(b, loc, cIdx(b, loc, 0),
                                     cIdx(b, loc, kWarp), cIdx(b, loc, 1),
                                     ValueRange{arith::ConstantOp::create(
                                         b, loc, b.getF32FloatAttr(0.0f))},
                                     [&](OpBuilder &b, Location loc, Value lane,
                                         ValueRange it) {
                                       scf::YieldOp::create(
                                           b, loc,
                                           ValueRange{arith::AddFOp::create(
                                               b, loc, it[0],
                                               tensor::ExtractOp::create(
                                                   b, loc, partials,
                                                   ValueRange{r, lane, t}))});
                                     })
                      .getResult(0);
              Slot at{Value(),
                      {t, r},
                      indexAttrs(b, {1, 1}),
                      indexAttrs(b, {1, 1})};
              Value one = extractSlot(
                  b, loc, RankedTensorType::get({1, 1}, yElem), touts[0], at);
              Value c0 = cIdx(b, loc, 0);
              at.part = tensor::InsertOp::create(
                  b, loc, epilogue.apply(b, loc, sum), one, ValueRange{c0, c0});
              return SmallVector<Slot>{at};
            })[0];
        return SmallVector<Slot>{blockAt};
      })[0];
  setCost(result, w, m);
  return tensor::ExpandShapeOp::create(
      b, loc, outType, result,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

/// `absorbed_uk_<weight>` / `absorbed_uv_<weight>`, after the name
/// dsv3-name-op-locations gave the weight's dequantize
/// (`dequantize_kv_b_proj_fp8`), so the kernels say what they are.
Location kernelLoc(Location loc, const AbsorbedHeadContraction &match) {
  StringRef product = match.overRows ? "absorbed_uk" : "absorbed_uv";
  std::string name = product.str();
  for (Operation *user : match.w.codes.getUsers())
    if (auto named = dyn_cast<NameLoc>(user->getLoc()))
      if (StringRef rest = named.getName().getValue();
          rest.consume_front("dequantize")) {
        name += rest.str();
        break;
      }
  return NameLoc::get(StringAttr::get(loc->getContext(), name), loc);
}

struct Dsv3GPUAbsorbedHeads
    : dsv3::impl::Dsv3GPUAbsorbedHeadsBase<Dsv3GPUAbsorbedHeads> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, AbsorbedHeadContraction>> ops;
    getOperation()->walk([&](linalg::GenericOp op) {
      std::optional<AbsorbedHeadContraction> match =
          matchAbsorbedHeadContraction(op);
      if (!match)
        return;
      auto outType = cast<RankedTensorType>(op.getResult(0).getType());
      int64_t m = outType.getDimSize(0) * outType.getDimSize(1);
      // Decode and short chunks; W_UK's thread per 8 columns must fit a
      // block.
      if (m < 1 || m > maxTokens || match->w.cols / kVec > 1024)
        return;
      ops.push_back({op, *match});
    });
    IRRewriter rewriter(&getContext());
    for (auto &[op, match] : ops) {
      rewriter.setInsertionPoint(op);
      Location loc = kernelLoc(op.getLoc(), match);
      // The cast after the product (f32 sums to the activation type) is
      // applied as the kernel writes: no kernel of its own, and the f32
      // product never reaches memory. The same bits.
      Epilogue epilogue{elementwiseConsumer(op)};
      Value kernel = match.overRows ? buildOverRows(rewriter, loc, op, match.w,
                                                    sharedMemory, epilogue)
                                    : buildOverCols(rewriter, loc, op, match.w,
                                                    sharedMemory, epilogue);
      if (epilogue.op) {
        rewriter.replaceOp(epilogue.op, kernel);
        rewriter.eraseOp(op);
      } else {
        rewriter.replaceOp(op, kernel);
      }
    }
  }
};

} // namespace
