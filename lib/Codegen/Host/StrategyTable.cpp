//===- StrategyTable.cpp - which host strategy runs each op ---------------===//
//
// The table itself: one row per (op family, condition), tried in order; the
// first row whose condition holds gives the kernel and its parameters. The
// conditions are what each kernel needs (weight dtypes, widths that are
// whole vectors, static dimensions); anything else keeps its definition.
//
//===----------------------------------------------------------------------===//

#include "StrategyTable.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// f32 lanes of the host's vectors (AVX2): the kernels' widths must be
/// whole vectors.
constexpr int64_t kLanes = 8;

struct Param {
  llvm::StringLiteral name;
  int64_t value;
};

struct Row {
  llvm::StringLiteral op;
  /// Whether the row applies to `op` (under the pipeline's bound-by-kv-len).
  bool (*applies)(Operation *op, bool boundByKvLen);
  llvm::StringLiteral kernel;
  ArrayRef<Param> params;
};

bool weightOnlyLinear(Operation *o, bool) {
  auto op = cast<LinearOp>(o);
  Type w = op.getWeight().getType().getElementType();
  bool fp8 = isa<Float8E4M3FNType>(w);
  return op.getActQuant() == ActivationQuant::none &&
         (fp8 || w.isBF16() || w.isF32()) &&
         fp8 == static_cast<bool>(op.getWeightScaleInv()) &&
         op.getInput().getType().getDimSize(1) % kLanes == 0;
}

bool routerWithWeight(Operation *o, bool) {
  auto op = cast<MoEGateOp>(o);
  if (!op.getWeight())
    return false;
  Type w = cast<ShapedType>(op.getWeight().getType()).getElementType();
  return (w.isBF16() || w.isF32()) &&
         op.getInput().getType().getDimSize(1) % kLanes == 0;
}

bool dispatchedFP8Experts(Operation *o, bool) {
  auto op = cast<GroupedMatmulOp>(o);
  // Segments are the definition's rows of each expert only when the offsets
  // are nondecreasing from 0, as dsv3.expert_dispatch makes them.
  return isa<Float8E4M3FNType>(op.getWeight().getType().getElementType()) &&
         op.getWeightScaleInv() &&
         op.getOffsets().getDefiningOp<ExpertDispatchOp>() &&
         op.getInput().getType().getDimSize(1) % kLanes == 0;
}

bool boundedLatentAttention(Operation *o, bool boundByKvLen) {
  auto op = cast<LatentAttentionOp>(o);
  auto q = op.getQNope().getType();
  auto pe = op.getQPe().getType();
  // A split-KV tile's log-sum-exp comes from the definition.
  return boundByKvLen && !op.getLse() && !q.isDynamicDim(0) &&
         !q.isDynamicDim(2) && !q.isDynamicDim(3) && !pe.isDynamicDim(3) &&
         !op.getCKv().getType().isDynamicDim(1) &&
         q.getDimSize(3) % kLanes == 0 && pe.getDimSize(3) % kLanes == 0;
}

bool absorbedHeads(Operation *o, bool) {
  return host::isAbsorbedHeadContraction(o);
}

bool always(Operation *, bool) { return true; }

constexpr Param kLinearTiles[] = {{"rows_per_task", 32},
                                  {"decode_tokens", 16},
                                  {"token_block", 96},
                                  {"k_chunk_blocks", 4}};
constexpr Param kExpertTiles[] = {{"rows_per_task", 16},
                                  {"decode_tokens", 16},
                                  {"token_block", 96},
                                  {"k_chunk_blocks", 4}};
constexpr Param kAttentionTiles[] = {{"key_block", 256}};

// clang-format off
const Row kTable[] = {
  // Weight-only linears stream each weight row once per token block, widened
  // in registers, in 2-row x 6-token register tiles (FP8 block-scaled, or a
  // bf16/f32 weight such as lm_head). Activation-quantized (w8a8) linears
  // keep the definition.
  {"dsv3.linear",           weightOnlyLinear,       host::kWeightTiles, kLinearTiles},
  {"dsv3.linear",           always,                 host::kDefinition,  {}},
  // The router's logits: a linear of the bf16/f32 gate weight, on the same
  // kernel; the top-k selection after them keeps its definition.
  {"dsv3.moe_gate",         routerWithWeight,       host::kWeightTiles, kLinearTiles},
  // The routed experts' GEMM: the same kernel over (row block, expert).
  {"dsv3.grouped_matmul",   dispatchedFP8Experts,   host::kWeightTiles, kExpertTiles},
  {"dsv3.grouped_matmul",   always,                 host::kDefinition,  {}},
  // Absorbed MLA's attention core: two MQA-shaped products over the heads.
  {"dsv3.latent_attention", boundedLatentAttention, host::kMQATiles,    kAttentionTiles},
  {"dsv3.latent_attention", always,                 host::kDefinition,  {}},
  // Absorbed MLA's per-head products with kv_b_proj, reading FP8 codes.
  {"linalg.generic",        absorbedHeads,          host::kAbsorbedHeads, {}},
};
// clang-format on

const Row *rowFor(Operation *op, bool boundByKvLen) {
  StringRef name = op->getName().getStringRef();
  for (const Row &row : kTable)
    if (row.op == name && row.applies(op, boundByKvLen))
      return &row;
  return nullptr;
}

/// Whether `kernel` may run `op` (the table has a row for the pair whose
/// condition holds). bound-by-kv-len is assumed, as a hand-written strategy
/// asks for the kernel explicitly.
bool canRun(Operation *op, StringRef kernel) {
  StringRef name = op->getName().getStringRef();
  for (const Row &row : kTable)
    if (row.op == name && row.kernel == kernel && row.applies(op, true))
      return true;
  return false;
}

ArrayRef<Param> paramsOf(StringRef kernel, Operation *op) {
  if (kernel == host::kWeightTiles)
    return isa<GroupedMatmulOp>(op) ? ArrayRef<Param>(kExpertTiles)
                                    : ArrayRef<Param>(kLinearTiles);
  if (kernel == host::kMQATiles)
    return kAttentionTiles;
  return {};
}

/// The value of parameter `name`: the strategy's, else the table's default.
int64_t paramOf(DictionaryAttr s, Operation *op, StringRef name) {
  if (s)
    if (auto v = s.getAs<IntegerAttr>(name))
      return v.getInt();
  for (const Param &p : paramsOf(host::kernelOf(s), op))
    if (p.name == name)
      return p.value;
  llvm_unreachable("parameter of a verified strategy");
}

} // namespace

DictionaryAttr host::selectStrategy(Operation *op, bool boundByKvLen) {
  const Row *row = rowFor(op, boundByKvLen);
  if (!row)
    return nullptr;
  Builder b(op->getContext());
  SmallVector<NamedAttribute> entries = {
      b.getNamedAttr("kernel", b.getStringAttr(row->kernel))};
  for (const Param &p : row->params)
    entries.push_back(b.getNamedAttr(p.name, b.getI64IntegerAttr(p.value)));
  return b.getDictionaryAttr(entries);
}

LogicalResult host::verifyStrategy(Operation *op, DictionaryAttr strategy) {
  auto error = [&]() { return op->emitOpError() << kStrategyAttr << ": "; };
  auto kernel = strategy.getAs<StringAttr>("kernel");
  if (!kernel)
    return error() << "needs a string 'kernel' entry";
  StringRef k = kernel.getValue();
  if (k != kDefinition && k != kWeightTiles && k != kMQATiles &&
      k != kAbsorbedHeads)
    return error() << "unknown kernel '" << k << "' (known: " << kDefinition
                   << ", " << kWeightTiles << ", " << kMQATiles << ", "
                   << kAbsorbedHeads << ")";
  if (k != kDefinition && !canRun(op, k))
    return error() << "kernel '" << k << "' cannot run this op";
  ArrayRef<Param> known = paramsOf(k, op);
  for (NamedAttribute entry : strategy) {
    StringRef name = entry.getName().getValue();
    if (name == "kernel")
      continue;
    auto it =
        llvm::find_if(known, [&](const Param &p) { return p.name == name; });
    if (it == known.end())
      return error() << "kernel '" << k << "' has no parameter '" << name
                     << "'";
    auto value = dyn_cast<IntegerAttr>(entry.getValue());
    // decode_tokens may be 0 (every token count is chunked); the others
    // are sizes of at least 1. The bound keeps every derived trip count
    // and offset far from overflow.
    int64_t lo = name == "decode_tokens" ? 0 : 1, hi = int64_t(1) << 20;
    if (!value ||
        !(value.getType().isSignlessInteger() || value.getType().isIndex()) ||
        value.getValue().getSignificantBits() > 64 || value.getInt() < lo ||
        value.getInt() > hi)
      return error() << "'" << name << "' must be an integer in [" << lo << ", "
                     << hi << "]";
  }
  return success();
}

LogicalResult host::verifyStrategies(Operation *root) {
  bool ok = true;
  root->walk([&](Operation *op) {
    Attribute a = op->getAttr(kStrategyAttr);
    if (!a)
      return;
    auto s = dyn_cast<DictionaryAttr>(a);
    if (!s) {
      op->emitOpError() << kStrategyAttr << " must be a dictionary";
      ok = false;
    } else if (failed(verifyStrategy(op, s))) {
      ok = false;
    }
  });
  return success(ok);
}

DictionaryAttr host::strategyOf(Operation *op) {
  if (auto s = op->getAttrOfType<DictionaryAttr>(kStrategyAttr))
    return s;
  return selectStrategy(op);
}

StringRef host::kernelOf(DictionaryAttr strategy) {
  if (!strategy)
    return "";
  auto kernel = strategy.getAs<StringAttr>("kernel");
  return kernel ? kernel.getValue() : "";
}

host::WeightTiles host::weightTilesOf(Operation *op, DictionaryAttr s) {
  return {paramOf(s, op, "rows_per_task"), paramOf(s, op, "decode_tokens"),
          paramOf(s, op, "token_block"), paramOf(s, op, "k_chunk_blocks")};
}

host::MQATiles host::mqaTilesOf(Operation *op, DictionaryAttr s) {
  return {paramOf(s, op, "key_block")};
}
