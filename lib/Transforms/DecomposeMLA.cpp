//===- DecomposeMLA.cpp - dsv3.mla -> projections, rope, cache, attention -===//
//
// dsv3.mla names a whole attention block so that graphs stay readable and the
// choice between the naive (prefill) and absorbed (decode) form is made here,
// in one place, from the query length.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Attention.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3DECOMPOSEMLA
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// Query lengths up to this use the absorbed form under form=auto.
constexpr int64_t kAbsorbedMaxQueryLen = 16;

/// Builds the decomposition of one dsv3.mla; every intermediate has the
/// element type of `hidden`.
class MLABuilder {
public:
  MLABuilder(MLAOp op, bool boundByKvLen)
      : op(op), b(op.getLoc(), op), boundByKvLen(boundByKvLen) {
    auto x = op.getHidden().getType();
    et = x.getElementType();
    B = x.getDimSize(0);
    S = x.getDimSize(1);
    D = x.getDimSize(2);
    L = op.getCKv().getType().getDimSize(1);
    H = op.getNumHeads();
    C = op.getKvLoraRank();
    nope = op.getQkNopeHeadDim();
    R = op.getQkRopeHeadDim();
    V = op.getVHeadDim();
    fp8 = isa<Float8E4M3FNType>(op.getProjectionType());
    // A dynamic token count S stands for every dynamic size below (B*S,
    // B*H... stay static or equal S because B is then 1).
    if (ShapedType::isDynamic(S))
      tokens = tensor::DimOp::create(b, op.getHidden(), 1);
  }

  /// A dynamic token count needs B = 1 (one sequence per call).
  LogicalResult check() {
    if (ShapedType::isDynamic(S) && B != 1)
      return op.emitOpError("a dynamic token count needs batch 1, got ") << B;
    return success();
  }

  void build(bool absorbed);

private:
  RankedTensorType ty(ArrayRef<int64_t> shape, Type elt = {}) {
    return RankedTensorType::get(shape, elt ? elt : et);
  }
  std::string name(StringRef rest) {
    return (op.getPrefix() + "." + rest).str();
  }
  Value param(StringRef rest, ArrayRef<int64_t> shape, Type elt) {
    return ParameterOp::create(b, ty(shape, elt), name(rest));
  }
  /// x[M, K] · <proj>.weightᵀ, with the FP8 block scales when quantized.
  Value linear(Value x, StringRef proj, int64_t n) {
    int64_t m = cast<RankedTensorType>(x.getType()).getDimSize(0);
    int64_t k = cast<RankedTensorType>(x.getType()).getDimSize(1);
    Value w = param((proj + ".weight").str(), {n, k}, op.getProjectionType());
    Value s;
    if (fp8)
      s = param(
          (proj + ".weight_scale_inv").str(),
          {llvm::divideCeilSigned(n, 128), llvm::divideCeilSigned(k, 128)},
          b.getF32Type());
    return LinearOp::create(b, ty({m, n}), x, w, s);
  }
  Value rmsNorm(Value x, StringRef norm, int64_t n) {
    Value w = param((norm + ".weight").str(), {n}, op.getNormType());
    return RMSNormOp::create(b, x.getType(), x, w, op.getRmsNormEpsAttr());
  }
  Value rope(Value x) {
    SmallVector<NamedAttribute> attrs;
    for (StringRef key : {"theta", "factor", "original_max_position_embeddings",
                          "beta_fast", "beta_slow", "mscale", "mscale_all_dim"})
      if (Attribute a = op->getAttr(key))
        attrs.push_back(b.getNamedAttr(key, a));
    return RopeOp::create(b, x.getType(), ValueRange{x, op.getPositions()},
                          attrs);
  }
  Value slice(Value x, ArrayRef<int64_t> offsets, ArrayRef<int64_t> sizes) {
    return tensor::ExtractSliceOp::create(b, ty(sizes), x, folds(offsets),
                                          folds(sizes), ones(sizes.size()));
  }
  /// Sizes or offsets as fold results; a dynamic size is the token count.
  SmallVector<OpFoldResult> folds(ArrayRef<int64_t> v) {
    SmallVector<OpFoldResult> r;
    for (int64_t i : v)
      r.push_back(ShapedType::isDynamic(i) ? OpFoldResult(tokens)
                                           : OpFoldResult(b.getIndexAttr(i)));
    return r;
  }
  Value empty(ArrayRef<int64_t> shape, Type elt) {
    return tensor::EmptyOp::create(b, folds(shape), elt);
  }
  int64_t BS() const { return ShapedType::isDynamic(S) ? S : B * S; }
  SmallVector<OpFoldResult> ones(size_t n) {
    return SmallVector<OpFoldResult>(n, b.getIndexAttr(1));
  }
  Value reshape(Value x, ArrayRef<int64_t> shape) {
    auto src = cast<RankedTensorType>(x.getType());
    auto dst = RankedTensorType::get(shape, src.getElementType());
    // Every reshape here is a pure collapse or a pure expand.
    if (dst.getRank() < src.getRank()) {
      auto re = getReassociationIndicesForCollapse(src.getShape(), shape);
      return tensor::CollapseShapeOp::create(b, dst, x, *re);
    }
    auto re = getReassociationIndicesForReshape(src, dst);
    return tensor::ExpandShapeOp::create(b, dst, x, *re, folds(shape));
  }
  Value transpose(Value x, ArrayRef<int64_t> perm) {
    auto src = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape;
    for (int64_t p : perm)
      shape.push_back(src.getDimSize(p));
    Value init = empty(shape, src.getElementType());
    return linalg::TransposeOp::create(b, x, init, perm).getResult()[0];
  }
  /// Inserts head dimension H at position 1 of x.
  Value broadcastHeads(Value x) {
    auto src = cast<RankedTensorType>(x.getType());
    SmallVector<int64_t> shape(src.getShape());
    shape.insert(shape.begin() + 1, H);
    Value init = empty(shape, src.getElementType());
    return linalg::BroadcastOp::create(b, x, init, ArrayRef<int64_t>{1})
        .getResult()[0];
  }
  /// Per-head keys of the cache rows t < n = clamp(max_b kv_len[b], 0, L):
  /// kv_b_proj's [K_nope | V] as [B·H, L, nope+V] and k_pe broadcast to
  /// [B·H, L, R], with the rows t >= n left unwritten. They are hidden from
  /// every query (docs/semantics.md §10.5); projecting them would cost
  /// 2·C·H·(nope+V) FLOPs per row, and moving them to the heads-first layout
  /// (a transpose and a broadcast over all L rows: 335 MB per call at V3's
  /// shapes) would cost as much memory traffic whatever kv_len is.
  std::pair<Value, Value> visibleKeysPerHead(Value cCache, Value kCache) {
    Value n = buildVisibleKeyBound(b, b.getLoc(), op.getKvLen(), L);
    int64_t P = nope + V, dyn = ShapedType::kDynamic;
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    auto idx = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
    auto firstRows = [&](Value cache, int64_t w) {
      Type elt = cast<RankedTensorType>(cache.getType()).getElementType();
      return tensor::ExtractSliceOp::create(b, ty({B, dyn, w}, elt), cache,
                                            SmallVector<OpFoldResult>(3, zero),
                                            {idx(B), n, idx(w)},
                                            SmallVector<OpFoldResult>(3, one))
          .getResult();
    };
    // [B, n, H, w] rows -> [B, H, n, w] -> rows < n of [B·H, L, w].
    auto headsFirst = [&](Value x, int64_t w, bool broadcast) {
      SmallVector<OpFoldResult> sizes = {idx(B), idx(H), n, idx(w)};
      Type elt = cast<RankedTensorType>(x.getType()).getElementType();
      Value init = tensor::EmptyOp::create(b, sizes, elt);
      Value t =
          broadcast
              ? linalg::BroadcastOp::create(b, x, init, ArrayRef<int64_t>{1})
                    .getResult()[0]
              : linalg::TransposeOp::create(b, x, init,
                                            ArrayRef<int64_t>{0, 2, 1, 3})
                    .getResult()[0];
      Value all = tensor::InsertSliceOp::create(
          b, t, tensor::EmptyOp::create(b, ArrayRef<int64_t>{B, H, L, w}, elt),
          SmallVector<OpFoldResult>(4, zero), sizes,
          SmallVector<OpFoldResult>(4, one));
      return reshape(all, {B * H, L, w});
    };
    Value rows = tensor::CollapseShapeOp::create(
        b, firstRows(cCache, C),
        SmallVector<ReassociationIndices>{{0, 1}, {2}});
    Value projected = linear(rows, "kv_b_proj", H * P);
    projected = tensor::ExpandShapeOp::create(
        b, ty({B, dyn, H, P}), projected,
        SmallVector<ReassociationIndices>{{0, 1}, {2, 3}},
        SmallVector<OpFoldResult>{idx(B), n, idx(H), idx(P)});
    return {headsFirst(projected, P, /*broadcast=*/false),
            headsFirst(firstRows(kCache, R), R, /*broadcast=*/true)};
  }
  /// out[outDims] = Σ lhs[lhsDims] · rhs[rhsDims] over the loops not in
  /// outDims (reduction), products and sum in f32, rounded once.
  Value contract(Value lhs, Value rhs, ArrayRef<unsigned> lhsDims,
                 ArrayRef<unsigned> rhsDims, ArrayRef<unsigned> outDims,
                 ArrayRef<int64_t> outShape, unsigned numLoops);

  MLAOp op;
  ImplicitLocOpBuilder b;
  Type et;
  int64_t B, S, D, L, H, C, nope, R, V;
  bool fp8;
  /// tensor.dim of hidden's token dimension when S is dynamic.
  Value tokens;
  /// Naive form: project only the cache rows below max_b kv_len[b].
  bool boundByKvLen;
};

Value MLABuilder::contract(Value lhs, Value rhs, ArrayRef<unsigned> lhsDims,
                           ArrayRef<unsigned> rhsDims,
                           ArrayRef<unsigned> outDims,
                           ArrayRef<int64_t> outShape, unsigned numLoops) {
  MLIRContext *ctx = b.getContext();
  auto map = [&](ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  SmallVector<utils::IteratorType> iters(numLoops,
                                         utils::IteratorType::reduction);
  for (unsigned d : outDims)
    iters[d] = utils::IteratorType::parallel;
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  Value init = linalg::FillOp::create(b, zero, ValueRange{empty(outShape, f32)})
                   .getResult(0);
  auto ext = [&](OpBuilder &nb, Location loc, Value v) -> Value {
    return v.getType() == f32 ? v : arith::ExtFOp::create(nb, loc, f32, v);
  };
  Value acc =
      linalg::GenericOp::create(
          b, init.getType(), ValueRange{lhs, rhs}, ValueRange{init},
          ArrayRef<AffineMap>{map(lhsDims), map(rhsDims), map(outDims)}, iters,
          [&](OpBuilder &nb, Location loc, ValueRange args) {
            Value p = arith::MulFOp::create(nb, loc, ext(nb, loc, args[0]),
                                            ext(nb, loc, args[1]));
            linalg::YieldOp::create(
                nb, loc,
                ValueRange{arith::AddFOp::create(nb, loc, args[2], p)});
          })
          .getResult(0);
  if (et == f32)
    return acc;
  Value out = empty(outShape, et);
  return linalg::GenericOp::create(
             b, out.getType(), ValueRange{acc}, ValueRange{out},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(outShape.size()),
                                 b.getMultiDimIdentityMap(outShape.size())},
             SmallVector<utils::IteratorType>(outShape.size(),
                                              utils::IteratorType::parallel),
             [&](OpBuilder &nb, Location loc, ValueRange args) {
               linalg::YieldOp::create(
                   nb, loc,
                   ValueRange{arith::TruncFOp::create(nb, loc, et, args[0])});
             })
      .getResult(0);
}

void MLABuilder::build(bool absorbed) {
  Value x = reshape(op.getHidden(), {BS(), D});

  // Query: two projections around a norm, or one without (q_lora_rank null).
  int64_t qk = nope + R;
  Value q;
  if (int64_t qr = op.getQLoraRank()) {
    q = rmsNorm(linear(x, "q_a_proj", qr), "q_a_layernorm", qr);
    q = linear(q, "q_b_proj", H * qk);
  } else {
    q = linear(x, "q_proj", H * qk);
  }
  q = reshape(q, {B, S, H, qk});
  Value qNope = slice(q, {0, 0, 0, 0}, {B, S, H, nope});
  Value qPe = rope(slice(q, {0, 0, 0, nope}, {B, S, H, R}));

  // Latent and rope key of the new tokens, written into the caches.
  Value kv = linear(x, "kv_a_proj_with_mqa", C + R);
  Value cNew = reshape(
      rmsNorm(slice(kv, {0, 0}, {BS(), C}), "kv_a_layernorm", C), {B, S, C});
  Value kPeNew = rope(reshape(slice(kv, {0, C}, {BS(), R}), {B, S, R}));
  auto update = KVCacheUpdateOp::create(
      b, TypeRange{op.getCKv().getType(), op.getKPe().getType()}, op.getCKv(),
      op.getKPe(), cNew, kPeNew, op.getStartPos());
  Value cCache = update.getCKvOut(), kCache = update.getKPeOut();

  FloatAttr scale = b.getF32FloatAttr(op.getSoftmaxScale());
  Value attn; // [B*S, H*V]
  if (absorbed) {
    // kv_b_proj rows are [H][K rows (nope) | V rows (v)] (docs/semantics.md
    // §3.2).
    Value wkvb;
    if (!fp8) {
      wkvb = param("kv_b_proj.weight", {H * (nope + V), C},
                   op.getProjectionType());
    } else {
      Value q8 = param("kv_b_proj.weight", {H * (nope + V), C},
                       op.getProjectionType());
      Value s = param("kv_b_proj.weight_scale_inv",
                      {llvm::divideCeilSigned(H * (nope + V), 128),
                       llvm::divideCeilSigned(C, 128)},
                      b.getF32Type());
      wkvb = DequantizeOp::create(b, ty({H * (nope + V), C}), q8, s,
                                  ArrayRef<int64_t>{128, 128});
    }
    wkvb = reshape(wkvb, {H, nope + V, C});
    Value wUK = slice(wkvb, {0, 0, 0}, {H, nope, C});
    Value wUV = slice(wkvb, {0, nope, 0}, {H, V, C});
    // q_abs[b,s,h,c] = Σ_d q_nope[b,s,h,d] · W_UK[h,d,c]; loops (b,s,h,c,d).
    Value qAbs = contract(qNope, wUK, {0, 1, 2, 4}, {2, 4, 3}, {0, 1, 2, 3},
                          {B, S, H, C}, 5);
    Value lat = LatentAttentionOp::create(
                    b, ty({B, S, H, C}), /*lse=*/Type(), qAbs, qPe, cCache,
                    kCache, op.getStartPos(), op.getKvLen(), scale)
                    .getResult();
    // o[b,s,h,v] = Σ_c lat[b,s,h,c] · W_UV[h,v,c]; loops (b,s,h,v,c).
    attn = contract(lat, wUV, {0, 1, 2, 4}, {2, 3, 4}, {0, 1, 2, 3},
                    {B, S, H, V}, 5);
    attn = reshape(attn, {BS(), H * V});
  } else {
    // Per-head [K_nope | V] of the cached rows, straight from kv_b_proj's
    // interleaved rows; heads become batch rows of one-head latent
    // attention.
    Value kvb, kPe;
    if (boundByKvLen) {
      std::tie(kvb, kPe) = visibleKeysPerHead(cCache, kCache);
    } else {
      kvb = linear(reshape(cCache, {B * L, C}), "kv_b_proj", H * (nope + V));
      kvb = transpose(reshape(kvb, {B, L, H, nope + V}), {0, 2, 1, 3});
      kvb = reshape(kvb, {B * H, L, nope + V});
      kPe = reshape(broadcastHeads(kCache), {B * H, L, R});
    }
    // [q_nope | 0] · [K_nope | V] = q_nope · K_nope exactly.
    Value zeros =
        linalg::FillOp::create(b,
                               ValueRange{arith::ConstantOp::create(
                                   b, cast<TypedAttr>(b.getZeroAttr(et)))},
                               ValueRange{empty({B, S, H, nope + V}, et)})
            .getResult(0);
    Value qn = tensor::InsertSliceOp::create(
        b, qNope, zeros, folds({0, 0, 0, 0}), folds({B, S, H, nope}), ones(4));
    auto perHead = [&](Value t, int64_t w) {
      t = reshape(transpose(t, {0, 2, 1, 3}), {B * H, S, w});
      return reshape(t, {B * H, S, 1, w});
    };
    Value start = reshape(broadcastHeads(op.getStartPos()), {B * H});
    Value len = reshape(broadcastHeads(op.getKvLen()), {B * H});
    Value o =
        LatentAttentionOp::create(b, ty({B * H, S, 1, nope + V}),
                                  /*lse=*/Type(), perHead(qn, nope + V),
                                  perHead(qPe, R), kvb, kPe, start, len, scale)
            .getResult();
    // Keep the P·V half, back to [B, S, H, V].
    o = reshape(slice(o, {0, 0, 0, nope}, {B * H, S, 1, V}), {B * H, S, V});
    o = transpose(reshape(o, {B, H, S, V}), {0, 2, 1, 3});
    attn = reshape(o, {BS(), H * V});
  }
  Value out = reshape(linear(attn, "o_proj", D), {B, S, D});
  op.replaceAllUsesWith(ValueRange{out, cCache, kCache});
  op.erase();
}

struct Dsv3DecomposeMLAPass
    : dsv3::impl::Dsv3DecomposeMLABase<Dsv3DecomposeMLAPass> {
  using Base::Base;
  void runOnOperation() override {
    if (form != "naive" && form != "absorbed" && form != "auto") {
      emitError(getOperation()->getLoc(), "dsv3-decompose-mla: form must be "
                                          "naive, absorbed or auto, got '")
          << form << "'";
      return signalPassFailure();
    }
    SmallVector<MLAOp> ops;
    getOperation()->walk([&](MLAOp op) { ops.push_back(op); });
    for (MLAOp op : ops) {
      // A dynamic token count (prefill of any length) takes the naive form.
      int64_t s = op.getHidden().getType().getDimSize(1);
      bool absorbed =
          form == "absorbed" || (form == "auto" && !ShapedType::isDynamic(s) &&
                                 s <= kAbsorbedMaxQueryLen);
      MLABuilder builder(op, boundByKvLen);
      if (failed(builder.check()))
        return signalPassFailure();
      builder.build(absorbed);
    }
  }
};

} // namespace
