//===- AbsorbedHeads.cpp - absorbed MLA's per-head kv_b products ----------===//

#include "AbsorbedHeads.h"
#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {

std::optional<HeadWeight> matchHeadWeight(Value v) {
  auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || !slice.hasUnitStride() || slice.getType().getRank() != 3)
    return std::nullopt;
  auto expand = slice.getSource().getDefiningOp<tensor::ExpandShapeOp>();
  if (!expand || expand.getReassociationIndices().size() != 2 ||
      expand.getReassociationIndices()[0].size() != 2)
    return std::nullopt;
  auto deq = expand.getSrc().getDefiningOp<DequantizeOp>();
  if (!deq ||
      deq.getBlock() !=
          ArrayRef<int64_t>{kAbsorbedHeadsBlock, kAbsorbedHeadsBlock} ||
      !isa<Float8E4M3FNType>(deq.getInput().getType().getElementType()))
    return std::nullopt;
  auto expanded = expand.getResultType();
  if (!expanded.hasStaticShape())
    return std::nullopt;
  std::optional<int64_t> h = getConstantIntValue(slice.getMixedOffsets()[0]),
                         off = getConstantIntValue(slice.getMixedOffsets()[1]),
                         c = getConstantIntValue(slice.getMixedOffsets()[2]);
  auto sizes = slice.getType().getShape();
  if (!h || !off || !c || *h != 0 || *c != 0 ||
      sizes[0] != expanded.getDimSize(0) || sizes[2] != expanded.getDimSize(2))
    return std::nullopt;
  return HeadWeight{deq.getInput(),
                    deq.getScale(),
                    deq.getType().getElementType(),
                    expanded.getDimSize(0),
                    expanded.getDimSize(1),
                    *off,
                    sizes[1],
                    sizes[2]};
}

/// True if the body is `out + ext(a) * ext(b)` (ext optional) in f32.
bool isMulAdd(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || add.getLhs() != body.getArgument(2))
    return false;
  auto mul = add.getRhs().getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  auto strip = [](Value v) {
    if (auto ext = v.getDefiningOp<arith::ExtFOp>())
      return ext.getIn();
    return v;
  };
  return strip(mul.getLhs()) == body.getArgument(0) &&
         strip(mul.getRhs()) == body.getArgument(1) &&
         body.getOperations().size() <= 5;
}

} // namespace

std::optional<AbsorbedHeadContraction>
mlir::dsv3::matchAbsorbedHeadContraction(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 5 || !op.hasPureTensorSemantics())
    return std::nullopt;
  auto iters = op.getIteratorTypesArray();
  for (int i = 0; i < 4; ++i)
    if (iters[i] != utils::IteratorType::parallel)
      return std::nullopt;
  if (iters[4] != utils::IteratorType::reduction || !isMulAdd(op))
    return std::nullopt;
  std::optional<HeadWeight> w = matchHeadWeight(op.getDpsInputs()[1]);
  if (!w)
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  auto dims = [&](ArrayRef<unsigned> d) {
    SmallVector<AffineExpr> e;
    for (unsigned i : d)
      e.push_back(getAffineDimExpr(i, ctx));
    return AffineMap::get(5, 0, e, ctx);
  };
  auto maps = op.getIndexingMapsArray();
  if (maps[0] != dims({0, 1, 2, 4}) || maps[2] != dims({0, 1, 2, 3}))
    return std::nullopt;
  // UK: Σ_j x[b,s,h,j] · W[h,j,c]; UV: Σ_c x[b,s,h,c] · W[h,v,c].
  bool overRows = maps[1] == dims({2, 4, 3});
  if (!overRows && maps[1] != dims({2, 3, 4}))
    return std::nullopt;
  auto lhsType = cast<RankedTensorType>(op.getDpsInputs()[0].getType());
  auto outType = cast<RankedTensorType>(op.getResult(0).getType());
  if (!lhsType.hasStaticShape() || !outType.hasStaticShape() ||
      !outType.getElementType().isF32() || w->cols % 8 != 0)
    return std::nullopt;
  auto fill = op.getDpsInits()[0].getDefiningOp<linalg::FillOp>();
  FloatAttr zero;
  if (!fill || !matchPattern(fill.getInputs()[0], m_Constant(&zero)) ||
      !zero.getValue().isZero())
    return std::nullopt;
  return AbsorbedHeadContraction{*w, overRows};
}
