//===- Dsv3Ops.cpp - dsv3 op verifiers ------------------------------------===//
//
// Verifiers report every shape or dtype inconsistency with a message that
// names the offending operand and the expected value, so that a graph written
// by hand or by an importer fails at parse time rather than at run time.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "VerifyUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::dsv3;

using dsv3::detail::ceilDivSize;
using dsv3::detail::verifyStaticExceptTokens;
static std::string shapeStr(ArrayRef<int64_t> shape) {
  return dsv3::detail::shapeOf(shape);
}

/// Dimensions 0 .. rank-2: the rows of an activation (tokens, or tokens and
/// heads); the last dimension is always static.
static SmallVector<int64_t> leadingDims(ShapedType t) {
  return llvm::to_vector(
      llvm::seq<int64_t>(0, std::max<int64_t>(t.getRank() - 1, 0)));
}

/// Shared by quantize and dequantize: block sizes match the data rank, are
/// positive, shapes are static but for token rows, and the scale shape is
/// ceildiv(data, block).
static LogicalResult verifyBlockScaled(Operation *op, RankedTensorType data,
                                       RankedTensorType scale,
                                       ArrayRef<int64_t> block) {
  if (failed(
          verifyStaticExceptTokens(op, "the data", data, leadingDims(data))) ||
      failed(
          verifyStaticExceptTokens(op, "the scale", scale, leadingDims(scale))))
    return failure();
  if (static_cast<int64_t>(block.size()) != data.getRank())
    return op->emitOpError("block has ")
           << block.size() << " sizes but the data has rank " << data.getRank();
  if (llvm::any_of(block, [](int64_t b) { return b <= 0; }))
    return op->emitOpError("block sizes must be positive, got ")
           << shapeStr(block);
  SmallVector<int64_t> expected;
  for (auto [i, dim, b] : llvm::enumerate(data.getShape(), block)) {
    // Token rows are quantized one by one: a block never spans a dynamic
    // number of them.
    if (ShapedType::isDynamic(dim) && b != 1)
      return op->emitOpError("dynamic dimension ")
             << i << " needs block size 1, got " << b;
    expected.push_back(ceilDivSize(dim, b));
  }
  if (scale.getShape() != ArrayRef<int64_t>(expected))
    return op->emitOpError("scale shape must be ")
           << shapeStr(expected) << " (ceil-div of "
           << shapeStr(data.getShape()) << " by block " << shapeStr(block)
           << "), got " << shapeStr(scale.getShape());
  return success();
}

LogicalResult ParameterOp::verify() {
  if (getName().empty())
    return emitOpError("requires a non-empty checkpoint tensor name");
  if (!getType().hasStaticShape())
    return emitOpError("requires a static shape for parameter '")
           << getName() << "'";
  size_t first = getName().find("{e}");
  bool once = first != StringRef::npos &&
              getName().find("{e}", first + 1) == StringRef::npos;
  if (getStacked()) {
    if (!once)
      return emitOpError("stacked parameter '")
             << getName()
             << "' must hold the expert placeholder {e} exactly once";
    if (getType().getRank() == 0)
      return emitOpError("stacked parameter '")
             << getName() << "' needs a leading expert dimension";
  } else if (first != StringRef::npos) {
    return emitOpError("parameter '")
           << getName() << "' holds the placeholder {e} but is not stacked";
  }
  if (std::optional<StringRef> other = getSameAs()) {
    if (other->empty() || *other == getName())
      return emitOpError("parameter '")
             << getName() << "': same_as must name another parameter";
    if (getStacked())
      return emitOpError("stacked parameter '")
             << getName() << "' cannot be same_as another";
  }
  if (std::optional<Type> from = getQuantizedFrom()) {
    if (!from->isBF16() && !from->isF16() && !from->isF32())
      return emitOpError("parameter '")
             << getName() << "': quantized_from must be bf16, f16 or f32, not "
             << *from;
    if (getType().getRank() != 2 ||
        !isa<Float8E4M3FNType>(getType().getElementType()))
      return emitOpError("quantized parameter '")
             << getName() << "' must be a rank-2 f8E4M3FN tensor, not "
             << getType();
    if (getStacked())
      return emitOpError("stacked parameter '")
             << getName() << "' cannot be quantized_from";
  }
  if (std::optional<StringRef> of = getScalesOf()) {
    if (of->empty() || *of == getName())
      return emitOpError("parameter '")
             << getName() << "': scales_of must name another parameter";
    if (getType().getRank() != 2 || !getType().getElementType().isF32())
      return emitOpError("scales parameter '")
             << getName() << "' must be a rank-2 f32 tensor, not " << getType();
    if (getStacked() || getQuantizedFrom() || getSameAs())
      return emitOpError("scales parameter '")
             << getName()
             << "' cannot also be stacked, quantized_from or same_as";
  }
  return success();
}

LogicalResult QuantizeOp::verify() {
  auto in = getInput().getType();
  auto out = getOutput().getType();
  auto scale = getScale().getType();
  if (failed(verifyBlockScaled(*this, in, scale, getBlock())))
    return failure();
  if (out.getShape() != in.getShape())
    return emitOpError("output shape ")
           << shapeStr(out.getShape()) << " differs from the input shape "
           << shapeStr(in.getShape());
  if (isa<Float8E8M0FNUType>(scale.getElementType()) &&
      getScaleFmt() != ScaleFormat::ue8m0)
    return emitOpError("f8E8M0FNU scales require scale_fmt(ue8m0)");
  return success();
}

LogicalResult DequantizeOp::verify() {
  auto in = getInput().getType();
  auto out = getOutput().getType();
  if (failed(verifyBlockScaled(*this, in, getScale().getType(), getBlock())))
    return failure();
  if (out.getShape() != in.getShape())
    return emitOpError("output shape ")
           << shapeStr(out.getShape()) << " differs from the input shape "
           << shapeStr(in.getShape());
  return success();
}

LogicalResult LinearOp::verify() {
  auto x = getInput().getType();
  auto w = getWeight().getType();
  auto y = getResult().getType();
  if (x.getRank() != 2 || w.getRank() != 2 || y.getRank() != 2)
    return emitOpError("expects rank-2 input [M, K], weight [N, K] and "
                       "result [M, N]");
  if (failed(verifyStaticExceptTokens(*this, "input", x, {0})) ||
      failed(verifyStaticExceptTokens(*this, "weight", w, {})) ||
      failed(verifyStaticExceptTokens(*this, "result", y, {0})))
    return failure();
  int64_t m = x.getDimSize(0), k = x.getDimSize(1);
  int64_t n = w.getDimSize(0);
  if (w.getDimSize(1) != k)
    return emitOpError("weight K (")
           << w.getDimSize(1) << ") differs from input K (" << k << ")";
  if (y.getShape() != ArrayRef<int64_t>{m, n})
    return emitOpError("result shape must be ")
           << shapeStr({m, n}) << ", got " << shapeStr(y.getShape());
  bool fp8 = isa<Float8E4M3FNType>(w.getElementType());
  auto scale = getWeightScaleInv();
  if (fp8 && !scale)
    return emitOpError("an FP8 weight requires weight_scale_inv");
  if (!fp8 && scale)
    return emitOpError("weight_scale_inv given for a non-FP8 weight");
  if (scale) {
    auto st = cast<RankedTensorType>(scale.getType());
    SmallVector<int64_t> expected = {ceilDiv(n, kQuantBlock),
                                     ceilDiv(k, kQuantBlock)};
    if (st.getShape() != ArrayRef<int64_t>(expected))
      return emitOpError("weight_scale_inv shape must be ")
             << shapeStr(expected) << " for a " << shapeStr(w.getShape())
             << " weight in 128x128 blocks, got " << shapeStr(st.getShape());
  }
  if (getActQuant() != ActivationQuant::none) {
    if (!fp8)
      return emitOpError("activation quantization requires an FP8 weight");
    if (k % kQuantBlock != 0)
      return emitOpError("activation quantization requires K to be a "
                         "multiple of 128, got ")
             << k;
  }
  return success();
}

LogicalResult RMSNormOp::verify() {
  auto x = getInput().getType();
  auto w = getWeight().getType();
  auto y = getResult().getType();
  if (x.getRank() < 1)
    return emitOpError("requires an input of rank >= 1");
  if (failed(verifyStaticExceptTokens(*this, "input", x, leadingDims(x))) ||
      failed(verifyStaticExceptTokens(*this, "weight", w, {})))
    return failure();
  int64_t d = x.getShape().back();
  if (w.getRank() != 1 || w.getDimSize(0) != d)
    return emitOpError("weight must be [")
           << d << "] (the input's last dimension), got "
           << shapeStr(w.getShape());
  if (y.getShape() != x.getShape())
    return emitOpError("result shape ")
           << shapeStr(y.getShape()) << " differs from the input shape "
           << shapeStr(x.getShape());
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError("epsilon must be positive");
  return success();
}

#define GET_OP_CLASSES
#include "dsv3/IR/Dsv3Ops.cpp.inc"
