//===- DecomposeMLP.cpp - dsv3.mlp -> parameters and linears --------------===//
//
// dsv3.mlp is the importer's form of a dense layer's feed-forward: weights
// read by checkpoint name. This pass turns it into dsv3.parameter ops and
// three dsv3.linear ops around an f32 SwiGLU.
//
//===----------------------------------------------------------------------===//

#include "FeedForward.h"

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3DECOMPOSEMLP
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// `<prefix>.<proj>.weight` [n, k] applied to x, accumulated in f32 and
/// rounded to `elem` (with `.weight_scale_inv` for FP8 weights).
static Value project(OpBuilder &b, Location loc, MLPOp op, StringRef proj,
                     Value x, int64_t n, int64_t k, Type elem) {
  Type f32 = b.getF32Type();
  Value w = ParameterOp::create(
      b, loc, RankedTensorType::get({n, k}, op.getWeightType()),
      op.weightName((proj + ".weight").str()));
  Value s;
  if (op.hasFP8Weights())
    s = ParameterOp::create(
        b, loc,
        RankedTensorType::get({llvm::divideCeilSigned(n, int64_t{128}),
                               llvm::divideCeilSigned(k, int64_t{128})},
                              f32),
        op.weightName((proj + ".weight_scale_inv").str()));
  int64_t t = cast<RankedTensorType>(x.getType()).getDimSize(0);
  return LinearOp::create(b, loc, RankedTensorType::get({t, n}, elem), x, w, s);
}

struct Dsv3DecomposeMLPPass
    : dsv3::impl::Dsv3DecomposeMLPBase<Dsv3DecomposeMLPPass> {
  void runOnOperation() override {
    SmallVector<MLPOp> ops;
    getOperation()->walk([&](MLPOp op) { ops.push_back(op); });
    for (MLPOp op : ops) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      Type f32 = b.getF32Type();
      auto yType = op.getResult().getType();
      int64_t h = yType.getDimSize(1);
      int64_t inter = static_cast<int64_t>(op.getIntermediateSize());
      Value x = op.getInput();
      Value g = project(b, loc, op, "gate_proj", x, inter, h, f32);
      Value u = project(b, loc, op, "up_proj", x, inter, h, f32);
      Value y = project(b, loc, op, "down_proj",
                        dsv3::detail::buildSwiGLU(b, loc, g, u), h, inter,
                        yType.getElementType());
      op.getResult().replaceAllUsesWith(y);
      op.erase();
    }
  }
};

} // namespace
