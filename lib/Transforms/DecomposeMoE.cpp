//===- DecomposeMoE.cpp - dsv3.moe -> router, grouped GEMMs, weights ------===//
//
// dsv3.moe is the importer's form: HF config keys and weights read by their
// checkpoint names. The building blocks below it (moe_gate, expert_dispatch,
// grouped_matmul, expert_combine, linear) take weights as operands, and the
// grouped GEMM takes every expert's projection as one [E, N, K] tensor. This
// pass is where the per-expert checkpoint tensors become those operands.
//
//===----------------------------------------------------------------------===//

#include "FeedForward.h"

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3DECOMPOSEMOE
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// A projection weight [N, K] and, for FP8, its block scales
/// [ceil(N/128), ceil(K/128)] (docs/semantics.md §3.1, §5.4).
struct Weight {
  Value weight;
  Value scale; // null unless FP8
};

class MoEDecomposer {
public:
  explicit MoEDecomposer(MoEOp op)
      : op(op), b(op), loc(op.getLoc()), f32(b.getF32Type()) {}

  Value build();

private:
  Value parameter(StringRef suffix, ArrayRef<int64_t> shape, Type elem) {
    return ParameterOp::create(b, loc, RankedTensorType::get(shape, elem),
                               op.weightName(suffix));
  }

  /// `<name>.weight` [n, k] and, for FP8, `<name>.weight_scale_inv`.
  Weight projection(const Twine &name, int64_t n, int64_t k) {
    Weight w;
    w.weight = parameter((name + ".weight").str(), {n, k}, op.getWeightType());
    if (op.hasFP8Weights())
      w.scale = parameter((name + ".weight_scale_inv").str(),
                          {llvm::divideCeilSigned(n, int64_t{128}),
                           llvm::divideCeilSigned(k, int64_t{128})},
                          f32);
    return w;
  }

  /// `experts.{e}.<proj>` of every routed expert as one stacked parameter
  /// [E, n, k] (and its scales [E, ceil(n/128), ceil(k/128)] for FP8). The
  /// runtime assembles it from the checkpoint's per-expert tensors when it
  /// binds parameters, so the graph never copies expert weights and a grouped
  /// GEMM reads only the experts tokens were routed to.
  Weight stacked(StringRef proj, int64_t n, int64_t k) {
    int64_t e = static_cast<int64_t>(op.getNRoutedExperts());
    auto param = [&](StringRef suffix, ArrayRef<int64_t> shape, Type elem) {
      SmallVector<int64_t> full = {e};
      full.append(shape.begin(), shape.end());
      return ParameterOp::create(
          b, loc, RankedTensorType::get(full, elem),
          op.weightName(("experts.{e}." + proj + suffix).str()),
          /*stacked=*/true);
    };
    Weight w;
    w.weight = param(".weight", {n, k}, op.getWeightType());
    if (op.hasFP8Weights())
      w.scale = param(".weight_scale_inv",
                      {llvm::divideCeilSigned(n, int64_t{128}),
                       llvm::divideCeilSigned(k, int64_t{128})},
                      f32);
    return w;
  }

  Value swiglu(Value g, Value u) {
    return dsv3::detail::buildSwiGLU(b, loc, g, u);
  }

  /// routed (+ shared) in f32, rounded once to the result type.
  Value finish(Value routed, Value shared) {
    auto resultType = op.getResult().getType();
    Type elem = resultType.getElementType();
    if (!shared && elem == f32)
      return routed;
    Value init = tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, routed), elem);
    SmallVector<Value> ins = {routed};
    if (shared)
      ins.push_back(shared);
    AffineMap id = b.getMultiDimIdentityMap(2);
    SmallVector<AffineMap> maps(ins.size() + 1, id);
    return linalg::GenericOp::create(
               b, loc, TypeRange{resultType}, ins, ValueRange{init}, maps,
               ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                             utils::IteratorType::parallel},
               [&](OpBuilder &nb, Location l, ValueRange args) {
                 Value v = args[0];
                 if (shared)
                   v = arith::AddFOp::create(nb, l, v, args[1]);
                 if (elem != f32)
                   v = arith::TruncFOp::create(nb, l, elem, v);
                 linalg::YieldOp::create(nb, l, v);
               })
        .getResult(0);
  }

  MoEOp op;
  OpBuilder b;
  Location loc;
  Type f32;
};

Value MoEDecomposer::build() {
  Value x = op.getInput();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t t = xType.getDimSize(0), h = xType.getDimSize(1);
  int64_t e = static_cast<int64_t>(op.getNRoutedExperts());
  int64_t k = static_cast<int64_t>(op.getNumExpertsPerTok());
  int64_t inter = static_cast<int64_t>(op.getMoeIntermediateSize());
  int64_t align = static_cast<int64_t>(op.getAlignment());
  // A dynamic token count makes the dispatched rows dynamic too.
  int64_t r =
      ShapedType::isDynamic(t) ? ShapedType::kDynamic : t * k + e * (align - 1);

  // Router (docs/semantics.md §12.1/§12.2). Only noaux_tc models carry the
  // selection bias.
  Value gw = parameter("gate.weight", {e, h}, op.getRouterWeightType());
  Value bias;
  if (op.getTopkMethod() == TopkMethod::noaux_tc)
    bias = parameter("gate.e_score_correction_bias", {e}, f32);
  auto gate = MoEGateOp::create(
      b, loc, RankedTensorType::get({t, k}, f32),
      RankedTensorType::get({t, k}, b.getI32Type()), x, gw, bias,
      op.getScoringFunc(), op.getTopkMethod(), op.getNumExpertsPerTok(),
      op.getNGroup(), op.getTopkGroup(), op.getNormTopkProb(),
      op.getRoutedScalingFactor());

  // Routed experts (docs/semantics.md §13): dispatch rows per expert, grouped
  // SwiGLU, weighted combine back into token order.
  // gate_proj and up_proj stay two grouped GEMMs over the same rows: fusing
  // them into one [E, 2I, H] weight would need a copy of every expert, and
  // the checkpoint stores them apart.
  Weight gateW = stacked("gate_proj", inter, h);
  Weight upW = stacked("up_proj", inter, h);
  Weight downW = stacked("down_proj", h, inter);
  auto dispatch = ExpertDispatchOp::create(
      b, loc, RankedTensorType::get({r, h}, xType.getElementType()),
      RankedTensorType::get({e + 1}, b.getI64Type()),
      RankedTensorType::get({r}, b.getI64Type()), x, gate.getIds(),
      op.getAlignment());
  Value rows = dispatch.getRows(), offsets = dispatch.getOffsets();
  auto rowsI = RankedTensorType::get({r, inter}, f32);
  Value hg = GroupedMatmulOp::create(b, loc, rowsI, rows, gateW.weight, offsets,
                                     gateW.scale);
  Value hu = GroupedMatmulOp::create(b, loc, rowsI, rows, upW.weight, offsets,
                                     upW.scale);
  Value hd = GroupedMatmulOp::create(b, loc, RankedTensorType::get({r, h}, f32),
                                     swiglu(hg, hu), downW.weight, offsets,
                                     downW.scale);
  Value routed =
      ExpertCombineOp::create(b, loc, RankedTensorType::get({t, h}, f32), hd,
                              gate.getIds(), gate.getWeights(), offsets);

  // Shared experts: one SwiGLU of width n_shared_experts · I, never scaled
  // by routed_scaling_factor (docs/semantics.md §11.2).
  Value shared;
  if (auto s = static_cast<int64_t>(op.getNSharedExperts()); s > 0) {
    int64_t si = s * inter;
    Weight sg = projection("shared_experts.gate_proj", si, h);
    Weight su = projection("shared_experts.up_proj", si, h);
    Weight sd = projection("shared_experts.down_proj", h, si);
    auto tSi = RankedTensorType::get({t, si}, f32);
    Value g = LinearOp::create(b, loc, tSi, x, sg.weight, sg.scale);
    Value u = LinearOp::create(b, loc, tSi, x, su.weight, su.scale);
    shared = LinearOp::create(b, loc, RankedTensorType::get({t, h}, f32),
                              swiglu(g, u), sd.weight, sd.scale);
  }
  return finish(routed, shared);
}

struct Dsv3DecomposeMoEPass
    : dsv3::impl::Dsv3DecomposeMoEBase<Dsv3DecomposeMoEPass> {
  void runOnOperation() override {
    SmallVector<MoEOp> ops;
    getOperation()->walk([&](MoEOp op) { ops.push_back(op); });
    for (MoEOp op : ops) {
      Value y = MoEDecomposer(op).build();
      op.getResult().replaceAllUsesWith(y);
      op.erase();
    }
  }
};

} // namespace
