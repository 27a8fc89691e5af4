//===- Dsv3MoEOps.cpp - verifiers of the MoE ops --------------------------===//
//
// Router configurations are checked here rather than in the lowering so that
// an inconsistent HF config (say top_k larger than the experts the group
// limit leaves) is reported at parse time with the offending values.
//
//===----------------------------------------------------------------------===//

#include "VerifyUtils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsv3;

using mlir::dsv3::detail::boundedProduct;
using mlir::dsv3::detail::shapeOf;
using mlir::dsv3::detail::verifyStaticExceptTokens;

/// The router configuration checks shared by dsv3.moe_gate and dsv3.moe
/// (`topKName` is the top-k attribute as each op spells it), so an
/// inconsistent HF config gets the same diagnostic whichever op carries it.
static LogicalResult verifyRouting(Operation *op, StringRef topKName, int64_t e,
                                   int64_t k, int64_t groups, int64_t kept,
                                   TopkMethod method, float scale) {
  if (groups <= 0 || e % groups != 0)
    return op->emitOpError("n_group (")
           << groups << ") must be a positive divisor of the " << e
           << " experts";
  if (kept <= 0 || kept > groups)
    return op->emitOpError("topk_group (")
           << kept << ") must be in [1, n_group = " << groups << "]";
  int64_t perGroup = e / groups;
  if (k > kept * perGroup)
    return op->emitOpError()
           << topKName << " (" << k << ") exceeds the " << kept * perGroup
           << " experts of the kept groups";
  if (method == TopkMethod::greedy && (groups != 1 || kept != 1))
    return op->emitOpError("greedy routing has no groups: n_group and "
                           "topk_group must be 1");
  if (method == TopkMethod::noaux_tc && perGroup < 2)
    return op->emitOpError("noaux_tc scores a group by its 2 best experts and "
                           "needs at least 2 experts per group, got ")
           << perGroup;
  if (!(scale > 0.0f) || std::isinf(scale))
    return op->emitOpError("routed_scaling_factor must be positive and finite");
  return success();
}

LogicalResult MoEGateOp::verify() {
  auto x = getInput().getType();
  // Without a weight the input is the logits [T, E].
  auto w = getWeight() ? cast<RankedTensorType>(getWeight().getType())
                       : RankedTensorType();
  auto weights = getWeights().getType();
  auto ids = getIds().getType();
  if (x.getRank() != 2 || (w && w.getRank() != 2))
    return emitOpError(w ? "expects rank-2 input [T, H] and weight [E, H]"
                         : "expects rank-2 logits [T, E]");
  if (!w && !x.getElementType().isF32())
    return emitOpError("expects f32 logits [T, E] without a weight, got ")
           << x.getElementType();
  auto bias = getEScoreCorrectionBias();
  RankedTensorType biasType =
      bias ? cast<RankedTensorType>(bias.getType()) : RankedTensorType();
  if (biasType && biasType.getRank() != 1)
    return emitOpError("expects a rank-1 e_score_correction_bias [E]");
  if (failed(verifyStaticExceptTokens(*this, "input", x, {0})) ||
      (w && failed(verifyStaticExceptTokens(*this, "weight", w, {}))) ||
      failed(verifyStaticExceptTokens(*this, "weights", weights, {0})) ||
      failed(verifyStaticExceptTokens(*this, "ids", ids, {0})) ||
      (biasType && failed(verifyStaticExceptTokens(
                       *this, "e_score_correction_bias", biasType, {}))))
    return failure();
  int64_t t = x.getDimSize(0), h = x.getDimSize(1);
  int64_t e = w ? w.getDimSize(0) : h;
  if (w && w.getDimSize(1) != h)
    return emitOpError("weight hidden size (")
           << w.getDimSize(1) << ") differs from input hidden size (" << h
           << ")";
  if (biasType && biasType.getDimSize(0) != e)
    return emitOpError("e_score_correction_bias must be [")
           << e << "] (one per expert), got " << shapeOf(biasType.getShape());
  int64_t k = static_cast<int64_t>(getTopK());
  if (k > e)
    return emitOpError("top_k (") << k << ") exceeds the " << e << " experts";
  SmallVector<int64_t> expected = {t, k};
  if (weights.getShape() != ArrayRef<int64_t>(expected) ||
      ids.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("results must be ")
           << shapeOf(expected) << " ([T, top_k]), got "
           << shapeOf(weights.getShape()) << " and " << shapeOf(ids.getShape());
  return verifyRouting(getOperation(), "top_k", e, k,
                       static_cast<int64_t>(getNGroup()),
                       static_cast<int64_t>(getTopkGroup()), getTopkMethod(),
                       getRoutedScalingFactor().convertToFloat());
}

LogicalResult ExpertBiasUpdateOp::verify() {
  auto ids = getIds().getType();
  auto bias = getBias().getType();
  if (ids.getRank() != 2 || bias.getRank() != 1)
    return emitOpError("expects ids [T, K] and bias [E]");
  if (failed(verifyStaticExceptTokens(*this, "ids", ids, {0})) ||
      failed(verifyStaticExceptTokens(*this, "bias", bias, {})))
    return failure();
  if (getResult().getType() != bias)
    return emitOpError("result type must equal the bias type ") << bias;
  float gamma = getGamma().convertToFloat();
  if (!(gamma >= 0.0f) || std::isinf(gamma))
    return emitOpError("gamma must be non-negative and finite");
  return success();
}

LogicalResult ExpertDispatchOp::verify() {
  auto x = getInput().getType();
  auto ids = getIds().getType();
  auto rows = getRows().getType();
  auto offsets = getOffsets().getType();
  auto tok = getRowToToken().getType();
  if (x.getRank() != 2 || ids.getRank() != 2)
    return emitOpError("expects input [T, H] and ids [T, K]");
  if (failed(verifyStaticExceptTokens(*this, "input", x, {0})) ||
      failed(verifyStaticExceptTokens(*this, "ids", ids, {0})) ||
      failed(verifyStaticExceptTokens(*this, "rows", rows, {0})) ||
      failed(verifyStaticExceptTokens(*this, "offsets", offsets, {})) ||
      failed(verifyStaticExceptTokens(*this, "row_to_token", tok, {0})))
    return failure();
  int64_t t = x.getDimSize(0), h = x.getDimSize(1), k = ids.getDimSize(1);
  if (ids.getDimSize(0) != t)
    return emitOpError("ids have ")
           << ids.getDimSize(0) << " tokens but the input has " << t;
  if (offsets.getRank() != 1 || offsets.getDimSize(0) < 2)
    return emitOpError("offsets must be [E + 1] with E >= 1, got ")
           << shapeOf(offsets.getShape());
  int64_t e = offsets.getDimSize(0) - 1;
  int64_t align = static_cast<int64_t>(getAlignment());
  // Both terms at most 2^48, so their sum cannot wrap.
  FailureOr<int64_t> pairs = boundedProduct(*this, "T x K", {t, k});
  FailureOr<int64_t> padding = boundedProduct(
      *this, "the padding rows E x (alignment - 1)", {e, align - 1});
  if (failed(pairs) || failed(padding))
    return failure();
  int64_t r =
      ShapedType::isDynamic(t) ? ShapedType::kDynamic : *pairs + *padding;
  SmallVector<int64_t> expected = {r, h};
  if (rows.getShape() != ArrayRef<int64_t>(expected) ||
      rows.getElementType() != x.getElementType())
    return emitOpError("rows must be ")
           << shapeOf(expected) << " (T*K + E*(alignment-1) rows) of "
           << x.getElementType() << ", got " << rows;
  if (tok.getShape() != ArrayRef<int64_t>{r})
    return emitOpError("row_to_token must be ")
           << shapeOf({r}) << ", got " << shapeOf(tok.getShape());
  return success();
}

LogicalResult GroupedMatmulOp::verify() {
  auto a = getInput().getType();
  auto w = getWeight().getType();
  auto offsets = getOffsets().getType();
  auto d = getResult().getType();
  if (a.getRank() != 2 || w.getRank() != 3 || offsets.getRank() != 1)
    return emitOpError("expects input [R, K], weight [E, N, K] and offsets "
                       "[E + 1]");
  if (failed(verifyStaticExceptTokens(*this, "input", a, {0})) ||
      failed(verifyStaticExceptTokens(*this, "weight", w, {})) ||
      failed(verifyStaticExceptTokens(*this, "offsets", offsets, {})) ||
      failed(verifyStaticExceptTokens(*this, "result", d, {0})))
    return failure();
  int64_t r = a.getDimSize(0), k = a.getDimSize(1);
  int64_t e = w.getDimSize(0), n = w.getDimSize(1);
  if (w.getDimSize(2) != k)
    return emitOpError("weight K (")
           << w.getDimSize(2) << ") differs from input K (" << k << ")";
  if (offsets.getDimSize(0) != e + 1)
    return emitOpError("offsets must be [")
           << e + 1 << "] (E + 1), got " << shapeOf(offsets.getShape());
  if (d.getShape() != ArrayRef<int64_t>{r, n})
    return emitOpError("result shape must be ")
           << shapeOf({r, n}) << ", got " << shapeOf(d.getShape());
  bool fp8 = isa<Float8E4M3FNType>(w.getElementType());
  auto scale = getWeightScaleInv();
  if (fp8 && !scale)
    return emitOpError("an FP8 weight requires weight_scale_inv");
  if (!fp8 && scale)
    return emitOpError("weight_scale_inv given for a non-FP8 weight");
  if (scale) {
    auto st = cast<RankedTensorType>(scale.getType());
    SmallVector<int64_t> expected = {e, ceilDiv(n, kQuantBlock),
                                     ceilDiv(k, kQuantBlock)};
    if (st.getShape() != ArrayRef<int64_t>(expected))
      return emitOpError("weight_scale_inv shape must be ")
             << shapeOf(expected) << ", got " << shapeOf(st.getShape());
  }
  return success();
}

LogicalResult ExpertCombineOp::verify() {
  auto rows = getRows().getType();
  auto ids = getIds().getType();
  auto w = getWeights().getType();
  auto offsets = getOffsets().getType();
  auto y = getResult().getType();
  if (rows.getRank() != 2 || ids.getRank() != 2 || w.getRank() != 2 ||
      offsets.getRank() != 1)
    return emitOpError("expects rows [R, N], ids [T, K], weights [T, K] and "
                       "offsets [E + 1]");
  if (failed(verifyStaticExceptTokens(*this, "rows", rows, {0})) ||
      failed(verifyStaticExceptTokens(*this, "ids", ids, {0})) ||
      failed(verifyStaticExceptTokens(*this, "weights", w, {0})) ||
      failed(verifyStaticExceptTokens(*this, "offsets", offsets, {})) ||
      failed(verifyStaticExceptTokens(*this, "result", y, {0})))
    return failure();
  if (w.getShape() != ids.getShape())
    return emitOpError("weights ")
           << shapeOf(w.getShape()) << " must have the shape of ids "
           << shapeOf(ids.getShape());
  if (offsets.getDimSize(0) < 2)
    return emitOpError("offsets must be [E + 1] with E >= 1");
  SmallVector<int64_t> expected = {ids.getDimSize(0), rows.getDimSize(1)};
  if (y.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape must be ")
           << shapeOf(expected) << " ([T, N]), got " << shapeOf(y.getShape());
  return success();
}

Type MoEOp::getRouterWeightType() {
  if (hasFP8Weights())
    return BFloat16Type::get(getContext());
  return getWeightType();
}

LogicalResult MoEOp::verify() {
  auto x = getInput().getType();
  if (x.getRank() != 2)
    return emitOpError("expects a rank-2 input [T, H]");
  if (failed(verifyStaticExceptTokens(*this, "input", x, {0})))
    return failure();
  if (getResult().getType().getShape() != x.getShape())
    return emitOpError("result must be ")
           << shapeOf(x.getShape()) << " ([T, H]), got "
           << shapeOf(getResult().getType().getShape());
  if (failed(dsv3::detail::verifyHFModule(*this, getPrefix(), getWeightType())))
    return failure();
  // I64Attr getters are unsigned; the stored value is signed.
  int64_t shared = static_cast<int64_t>(getNSharedExperts());
  if (shared < 0)
    return emitOpError("n_shared_experts must be non-negative, got ") << shared;
  int64_t e = static_cast<int64_t>(getNRoutedExperts());
  int64_t k = static_cast<int64_t>(getNumExpertsPerTok());
  if (k > e)
    return emitOpError("num_experts_per_tok (")
           << k << ") exceeds the " << e << " experts";
  // Sizes of what the decomposition creates: the stacked expert weights,
  // the shared experts' projection, the dispatched rows.
  int64_t inter = static_cast<int64_t>(getMoeIntermediateSize());
  int64_t align = static_cast<int64_t>(getAlignment());
  int64_t t = x.getDimSize(0), h = x.getDimSize(1);
  if (failed(boundedProduct(*this,
                            "n_routed_experts x moe_intermediate_size x hidden",
                            {e, inter, h})) ||
      failed(boundedProduct(*this,
                            "n_shared_experts x moe_intermediate_size x hidden",
                            {shared, inter, h})) ||
      failed(boundedProduct(*this, "n_routed_experts x (alignment - 1)",
                            {e, align - 1})) ||
      failed(boundedProduct(*this, "T x num_experts_per_tok", {t, k})))
    return failure();
  return verifyRouting(getOperation(), "num_experts_per_tok", e, k,
                       static_cast<int64_t>(getNGroup()),
                       static_cast<int64_t>(getTopkGroup()), getTopkMethod(),
                       getRoutedScalingFactor().convertToFloat());
}
