//===- Dsv3AttentionOps.cpp - verifiers of the attention ops --------------===//
//
// Shapes and RoPE/YaRN configurations are checked at parse time: a wrong
// rope_scaling would otherwise only show up as slightly wrong logits.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"
#include "dsv3/IR/Dsv3Attention.h"
#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

using dsv3::detail::verifyStaticExceptTokens;
static std::string dims(ArrayRef<int64_t> shape) {
  return dsv3::detail::shapeOf(shape);
}

/// All dimensions of `t` but the last (token rows, and heads).
static SmallVector<int64_t> allButLast(ShapedType t) {
  return llvm::to_vector(
      llvm::seq<int64_t>(0, std::max<int64_t>(t.getRank() - 1, 0)));
}

//===----------------------------------------------------------------------===//
// YaRN scalars (docs/semantics.md §9)
//===----------------------------------------------------------------------===//

double mlir::dsv3::yarnMscale(double factor, double mscale) {
  if (factor <= 1.0)
    return 1.0;
  return 0.1 * mscale * std::log(factor) + 1.0;
}

double mlir::dsv3::mlaSoftmaxScale(int64_t qkNopeHeadDim, int64_t qkRopeHeadDim,
                                   std::optional<double> factor,
                                   double mscale) {
  double scale = 1.0 / std::sqrt(double(qkNopeHeadDim + qkRopeHeadDim));
  if (factor) {
    double m = yarnMscale(*factor, mscale);
    scale *= m * m;
  }
  return scale;
}

SmallVector<double>
mlir::dsv3::ropeFrequencies(int64_t dim, double theta,
                            std::optional<YarnConfig> yarn) {
  int64_t half = dim / 2;
  SmallVector<double> freqs;
  for (int64_t i = 0; i < half; ++i)
    freqs.push_back(std::pow(theta, -double(2 * i) / double(dim)));
  if (!yarn)
    return freqs;
  // Dimension index at which a wavelength makes `rotations` turns over the
  // original context (DeepSeek's find_correction_dim).
  auto corr = [&](double rotations) {
    return double(dim) *
           std::log(double(yarn->originalMaxPositionEmbeddings) /
                    (rotations * 2.0 * M_PI)) /
           (2.0 * std::log(theta));
  };
  double low = std::max(std::floor(corr(yarn->betaFast)), 0.0);
  double high = std::min(std::ceil(corr(yarn->betaSlow)), double(dim - 1));
  if (low == high)
    high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
    freqs[i] *= (1.0 - ramp) + ramp / yarn->factor;
  }
  return freqs;
}

//===----------------------------------------------------------------------===//
// dsv3.rope
//===----------------------------------------------------------------------===//

SmallVector<double> RopeOp::getFrequencies() {
  std::optional<YarnConfig> yarn;
  if (auto f = getFactor())
    yarn = YarnConfig{
        f->convertToDouble(),
        static_cast<int64_t>(getOriginalMaxPositionEmbeddings().value_or(0)),
        getBetaFast() ? getBetaFast()->convertToDouble() : 32.0,
        getBetaSlow() ? getBetaSlow()->convertToDouble() : 1.0};
  return ropeFrequencies(getInput().getType().getShape().back(),
                         getTheta().convertToDouble(), yarn);
}

double RopeOp::getSoftmaxScale(int64_t qkNopeHeadDim, int64_t qkRopeHeadDim) {
  std::optional<double> factor;
  if (auto f = getFactor())
    factor = f->convertToDouble();
  // Hugging Face multiplies by m² only when mscale_all_dim is set; absent it
  // counts as 0, for which m = 1.
  double mscale =
      getMscaleAllDim() ? getMscaleAllDim()->convertToDouble() : 0.0;
  return mlaSoftmaxScale(qkNopeHeadDim, qkRopeHeadDim, factor, mscale);
}

std::pair<Value, Value> RopeOp::buildRotation(OpBuilder &b, Location loc,
                                              Value xa, Value xb,
                                              Value position, Value frequency) {
  Type f32 = b.getF32Type();
  Value p = arith::SIToFPOp::create(b, loc, f32, position);
  Value angle = arith::MulFOp::create(b, loc, p, frequency);
  Value c = math::CosOp::create(b, loc, angle);
  Value s = math::SinOp::create(b, loc, angle);
  // Hugging Face multiplies cos and sin by attention_factor in f32.
  float attentionFactor = static_cast<float>(getAttentionFactor());
  if (attentionFactor != 1.0f) {
    Value af =
        arith::ConstantOp::create(b, loc, b.getF32FloatAttr(attentionFactor));
    c = arith::MulFOp::create(b, loc, c, af);
    s = arith::MulFOp::create(b, loc, s, af);
  }
  auto widen = [&](Value v) -> Value {
    return v.getType() == f32 ? v : arith::ExtFOp::create(b, loc, f32, v);
  };
  xa = widen(xa);
  xb = widen(xb);
  // First member: xa cos - xb sin; second: xb cos + xa sin.
  Value ya = arith::SubFOp::create(b, loc, arith::MulFOp::create(b, loc, xa, c),
                                   arith::MulFOp::create(b, loc, xb, s));
  Value yb = arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, xb, c),
                                   arith::MulFOp::create(b, loc, xa, s));
  return {ya, yb};
}

double RopeOp::getAttentionFactor() {
  auto factor = getFactor();
  if (!factor)
    return 1.0;
  // Hugging Face's _compute_yarn_parameters: the ratio when both keys are
  // set (and non-zero), else m(factor, 1).
  double f = factor->convertToDouble();
  double mscale = getMscale() ? getMscale()->convertToDouble() : 0.0;
  double mscaleAll =
      getMscaleAllDim() ? getMscaleAllDim()->convertToDouble() : 0.0;
  if (mscale != 0.0 && mscaleAll != 0.0)
    return yarnMscale(f, mscale) / yarnMscale(f, mscaleAll);
  return yarnMscale(f, 1.0);
}

LogicalResult RopeOp::verify() {
  auto x = getInput().getType();
  auto pos = getPositions().getType();
  auto y = getResult().getType();
  if (failed(verifyStaticExceptTokens(*this, "input", x, allButLast(x))) ||
      failed(verifyStaticExceptTokens(
          *this, "positions", pos,
          llvm::to_vector(llvm::seq<int64_t>(0, pos.getRank())))))
    return failure();
  if (pos.getRank() != 1 && pos.getRank() != 2)
    return emitOpError("positions must be [T] or [B, T], got ")
           << dims(pos.getShape());
  int64_t extra = x.getRank() - pos.getRank();
  if ((extra != 1 && extra != 2) ||
      x.getShape().take_front(pos.getRank()) != pos.getShape())
    return emitOpError("input must be positions.shape ++ [H?, D] = ")
           << dims(pos.getShape()) << " ++ [H?, D], got " << dims(x.getShape());
  int64_t d = x.getShape().back();
  if (d % 2 != 0 || d == 0)
    return emitOpError("rotary dimension must be even and positive, got ") << d;
  if (y.getShape() != x.getShape())
    return emitOpError("result shape ")
           << dims(y.getShape()) << " differs from the input shape "
           << dims(x.getShape());
  double theta = getTheta().convertToDouble();
  if (!(theta > 1.0))
    return emitOpError("theta must be greater than 1, got ") << theta;

  auto factorAttr = getFactor();
  if (!factorAttr) {
    if (getOriginalMaxPositionEmbeddings() || getBetaFast() || getBetaSlow() ||
        getMscale() || getMscaleAllDim())
      return emitOpError("YaRN keys given without factor");
    return success();
  }
  double factor = factorAttr->convertToDouble();
  if (!(factor > 0.0))
    return emitOpError("factor must be positive, got ") << factor;
  // Read signed: the I64Attr accessor zero-extends, hiding negative values.
  auto origAttr = getOriginalMaxPositionEmbeddingsAttr();
  if (!origAttr)
    return emitOpError("factor requires original_max_position_embeddings");
  int64_t orig = origAttr.getInt();
  if (orig <= 0)
    return emitOpError("original_max_position_embeddings must be positive, "
                       "got ")
           << orig;
  for (auto beta : {getBetaFast(), getBetaSlow()})
    if (beta && !(beta->convertToDouble() > 0.0))
      return emitOpError("beta_fast and beta_slow must be positive");
  return success();
}

//===----------------------------------------------------------------------===//
// dsv3.latent_attention
//===----------------------------------------------------------------------===//

LogicalResult LatentAttentionOp::verify() {
  auto qn = getQNope().getType();
  auto qp = getQPe().getType();
  auto ckv = getCKv().getType();
  auto kpe = getKPe().getType();
  auto sp = getStartPos().getType();
  auto kl = getKvLen().getType();
  auto y = getResult().getType();
  for (auto [name, t, tokens] :
       {std::tuple<StringRef, RankedTensorType, bool>{"q_nope", qn, true},
        {"q_pe", qp, true},
        {"c_kv", ckv, false},
        {"k_pe", kpe, false},
        {"start_pos", sp, false},
        {"kv_len", kl, false},
        {"result", y, true}})
    if (failed(verifyStaticExceptTokens(*this, name, t,
                                        tokens ? ArrayRef<int64_t>{1}
                                               : ArrayRef<int64_t>{})))
      return failure();
  if (qn.getRank() != 4 || qp.getRank() != 4)
    return emitOpError("q_nope and q_pe must be [B, S, H, C] and [B, S, H, R]");
  int64_t b = qn.getDimSize(0), s = qn.getDimSize(1), h = qn.getDimSize(2),
          c = qn.getDimSize(3), r = qp.getDimSize(3);
  if (qp.getShape().drop_back() != qn.getShape().drop_back())
    return emitOpError("q_pe must be ")
           << dims({b, s, h}) << " ++ [R], got " << dims(qp.getShape());
  if (ckv.getRank() != 3 || ckv.getDimSize(0) != b || ckv.getDimSize(2) != c)
    return emitOpError("c_kv must be [")
           << b << ", L, " << c << "], got " << dims(ckv.getShape());
  int64_t l = ckv.getDimSize(1);
  if (kpe.getShape() != ArrayRef<int64_t>{b, l, r})
    return emitOpError("k_pe must be ")
           << dims({b, l, r}) << ", got " << dims(kpe.getShape());
  if (sp.getShape() != ArrayRef<int64_t>{b} ||
      kl.getShape() != ArrayRef<int64_t>{b})
    return emitOpError("start_pos and kv_len must be [") << b << "]";
  if (y.getShape() != qn.getShape())
    return emitOpError("result shape must be ")
           << dims(qn.getShape()) << ", got " << dims(y.getShape());
  if (Value lse = getLse();
      lse && cast<RankedTensorType>(lse.getType()).getShape() !=
                 qn.getShape().drop_back())
    return emitOpError("lse must be ")
           << dims(qn.getShape().drop_back()) << ", got "
           << dims(cast<RankedTensorType>(lse.getType()).getShape());
  if (!(getScale().convertToFloat() > 0.0f))
    return emitOpError("scale must be positive");
  return success();
}

//===----------------------------------------------------------------------===//
// dsv3.kv_cache_update
//===----------------------------------------------------------------------===//

LogicalResult AttentionMergeOp::verify() {
  auto o1 = getO1().getType();
  for (RankedTensorType t : {o1, getO2().getType(), getOut().getType()})
    if (failed(verifyStaticExceptTokens(*this, "o", t, allButLast(t))))
      return failure();
  if (o1.getRank() < 1)
    return emitOpError("o1 must have rank >= 1 (the last dimension is D)");
  for (auto [name, t] :
       {std::pair<StringRef, RankedTensorType>{"o2", getO2().getType()},
        {"out", getOut().getType()}})
    if (t.getShape() != o1.getShape())
      return emitOpError() << name << " must be " << dims(o1.getShape())
                           << " like o1, got " << dims(t.getShape());
  ArrayRef<int64_t> rows = o1.getShape().drop_back();
  for (auto [name, t] :
       {std::pair<StringRef, RankedTensorType>{"lse1", getLse1().getType()},
        {"lse2", getLse2().getType()},
        {"lse", getLse().getType()}})
    if (t.getShape() != rows)
      return emitOpError() << name << " must be " << dims(rows)
                           << " (o without its last dimension), got "
                           << dims(t.getShape());
  return success();
}

LogicalResult KVCacheUpdateOp::verify() {
  auto ckv = getCKv().getType();
  auto kpe = getKPe().getType();
  auto nc = getNewCKv().getType();
  auto nk = getNewKPe().getType();
  auto sp = getStartPos().getType();
  for (auto [name, t, tokens] :
       {std::tuple<StringRef, RankedTensorType, bool>{"c_kv", ckv, false},
        {"k_pe", kpe, false},
        {"new_c_kv", nc, true},
        {"new_k_pe", nk, true},
        {"start_pos", sp, false}})
    if (failed(verifyStaticExceptTokens(*this, name, t,
                                        tokens ? ArrayRef<int64_t>{1}
                                               : ArrayRef<int64_t>{})))
      return failure();
  if (ckv.getRank() != 3 || kpe.getRank() != 3)
    return emitOpError("caches must be [B, L, C] and [B, L, R]");
  int64_t b = ckv.getDimSize(0), l = ckv.getDimSize(1), c = ckv.getDimSize(2),
          r = kpe.getDimSize(2);
  if (kpe.getShape().drop_back() != ckv.getShape().drop_back())
    return emitOpError("k_pe cache must be ")
           << dims({b, l}) << " ++ [R], got " << dims(kpe.getShape());
  if (nc.getRank() != 3 || nc.getDimSize(0) != b || nc.getDimSize(2) != c)
    return emitOpError("new_c_kv must be [")
           << b << ", S, " << c << "], got " << dims(nc.getShape());
  int64_t s = nc.getDimSize(1);
  if (nk.getShape() != ArrayRef<int64_t>{b, s, r})
    return emitOpError("new_k_pe must be ")
           << dims({b, s, r}) << ", got " << dims(nk.getShape());
  if (!ShapedType::isDynamic(s) && s > l)
    return emitOpError("writes ") << s << " rows into a cache of " << l;
  if (sp.getShape() != ArrayRef<int64_t>{b})
    return emitOpError("start_pos must be [") << b << "]";
  if (getCKvOut().getType() != ckv || getKPeOut().getType() != kpe)
    return emitOpError("results must have the cache types");
  return success();
}

//===----------------------------------------------------------------------===//
// dsv3.mla
//===----------------------------------------------------------------------===//

Type MLAOp::getProjectionType() {
  if (auto t = getWeightType())
    return *t;
  return Float32Type::get(getContext());
}

Type MLAOp::getNormType() {
  // The official FP8 checkpoint keeps norms (and everything that is not a
  // projection) in bf16.
  Type t = getProjectionType();
  if (isa<Float8E4M3FNType>(t))
    return BFloat16Type::get(getContext());
  return t;
}

double MLAOp::getSoftmaxScale() {
  std::optional<double> factor;
  if (auto f = getFactor())
    factor = f->convertToDouble();
  double mscale =
      getMscaleAllDim() ? getMscaleAllDim()->convertToDouble() : 0.0;
  return mlaSoftmaxScale(getQkNopeHeadDim(), getQkRopeHeadDim(), factor,
                         mscale);
}

LogicalResult MLAOp::verify() {
  auto x = getHidden().getType();
  auto pos = getPositions().getType();
  auto ckv = getCKv().getType();
  auto kpe = getKPe().getType();
  auto sp = getStartPos().getType();
  auto kl = getKvLen().getType();
  for (auto [name, t, tokens] :
       {std::tuple<StringRef, RankedTensorType, bool>{"hidden", x, true},
        {"positions", pos, true},
        {"c_kv", ckv, false},
        {"k_pe", kpe, false},
        {"start_pos", sp, false},
        {"kv_len", kl, false}})
    if (failed(verifyStaticExceptTokens(*this, name, t,
                                        tokens ? ArrayRef<int64_t>{1}
                                               : ArrayRef<int64_t>{})))
      return failure();
  // Signed reads: the I64Attr accessors zero-extend.
  int64_t h = getNumHeadsAttr().getInt(), qr = getQLoraRankAttr().getInt(),
          c = getKvLoraRankAttr().getInt(),
          nope = getQkNopeHeadDimAttr().getInt(),
          r = getQkRopeHeadDimAttr().getInt(), v = getVHeadDimAttr().getInt();
  if (h <= 0 || c <= 0 || nope <= 0 || r <= 0 || v <= 0 || qr < 0)
    return emitOpError("num_heads, kv_lora_rank and head dims must be "
                       "positive and q_lora_rank non-negative");
  if (r % 2 != 0)
    return emitOpError("qk_rope_head_dim must be even, got ") << r;
  if (x.getRank() != 3)
    return emitOpError("hidden must be [B, S, hidden], got ")
           << dims(x.getShape());
  if (!x.getElementType().isF32() && !x.getElementType().isBF16())
    return emitOpError("hidden must be bf16 or f32");
  int64_t b = x.getDimSize(0), s = x.getDimSize(1);
  if (pos.getShape() != ArrayRef<int64_t>{b, s})
    return emitOpError("positions must be ")
           << dims({b, s}) << ", got " << dims(pos.getShape());
  if (ckv.getRank() != 3 || ckv.getDimSize(0) != b || ckv.getDimSize(2) != c)
    return emitOpError("c_kv cache must be [")
           << b << ", L, kv_lora_rank = " << c << "], got "
           << dims(ckv.getShape());
  int64_t l = ckv.getDimSize(1);
  if (kpe.getShape() != ArrayRef<int64_t>{b, l, r})
    return emitOpError("k_pe cache must be [")
           << b << ", " << l << ", qk_rope_head_dim = " << r << "], got "
           << dims(kpe.getShape());
  if (sp.getShape() != ArrayRef<int64_t>{b} ||
      kl.getShape() != ArrayRef<int64_t>{b})
    return emitOpError("start_pos and kv_len must be [") << b << "]";
  if (!ShapedType::isDynamic(s) && s > l)
    return emitOpError("writes ") << s << " rows into a cache of " << l;
  // Sizes of what the decomposition creates (each attribute first, so the
  // sums below cannot wrap): projections, per-head queries and keys, and
  // the [B, heads, S, L] scores.
  int64_t hid = x.getDimSize(2);
  for (auto [name, value] : {std::pair<StringRef, int64_t>{"num_heads", h},
                             {"q_lora_rank", qr},
                             {"kv_lora_rank", c},
                             {"qk_nope_head_dim", nope},
                             {"qk_rope_head_dim", r},
                             {"v_head_dim", v}})
    if (failed(dsv3::detail::boundedProduct(*this, name, {value})))
      return failure();
  if (failed(dsv3::detail::boundedProduct(
          *this, "num_heads x (qk_nope_head_dim + qk_rope_head_dim) x rank",
          {h, nope + r, qr > 0 ? qr : hid})) ||
      failed(dsv3::detail::boundedProduct(
          *this, "num_heads x (qk_nope_head_dim + v_head_dim) x kv_lora_rank",
          {h, nope + v, c})) ||
      failed(dsv3::detail::boundedProduct(
          *this, "hidden x num_heads x v_head_dim", {hid, h, v})) ||
      failed(dsv3::detail::boundedProduct(
          *this, "(kv_lora_rank + qk_rope_head_dim) x hidden", {c + r, hid})) ||
      failed(dsv3::detail::boundedProduct(*this, "B x num_heads x S x L",
                                          {b, h, s, l})))
    return failure();
  if (getOutput().getType() != x || getCKvOut().getType() != ckv ||
      getKPeOut().getType() != kpe)
    return emitOpError("results must have the types of hidden and the caches");
  Type wt = getProjectionType();
  if (!wt.isF32() && !wt.isBF16() && !wt.isF16() && !isa<Float8E4M3FNType>(wt))
    return emitOpError("weight_type must be bf16, f16, f32 or f8E4M3FN, got ")
           << wt;
  if (!(getTheta().convertToDouble() > 1.0))
    return emitOpError("theta must be greater than 1");
  if (!getFactor() && (getOriginalMaxPositionEmbeddings() || getBetaFast() ||
                       getBetaSlow() || getMscale() || getMscaleAllDim()))
    return emitOpError("YaRN keys given without factor");
  if (getFactor() && !getOriginalMaxPositionEmbeddingsAttr())
    return emitOpError("factor requires original_max_position_embeddings");
  return success();
}

Value mlir::dsv3::buildVisibleKeyBound(OpBuilder &b, Location loc, Value kvLen,
                                       int64_t maxSeqLen) {
  int64_t batch = cast<RankedTensorType>(kvLen.getType()).getDimSize(0);
  Value n = arith::ConstantIndexOp::create(b, loc, 0);
  for (int64_t i = 0; i < batch; ++i) {
    Value v = tensor::ExtractOp::create(
        b, loc, kvLen, ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
    v = arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
    n = arith::MaxSIOp::create(b, loc, n, v);
  }
  return arith::MinSIOp::create(
      b, loc, n, arith::ConstantIndexOp::create(b, loc, maxSeqLen));
}
