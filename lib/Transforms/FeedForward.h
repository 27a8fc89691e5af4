//===- FeedForward.h - builders shared by the MLP and MoE decompositions --===//
//
// Private to lib/Transforms: the SwiGLU of DeepSeek's feed-forward blocks,
// written once for dsv3.mlp, the shared experts and the routed experts.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_TRANSFORMS_FEEDFORWARD_H
#define DSV3_TRANSFORMS_FEEDFORWARD_H

#include "mlir/IR/Builders.h"

namespace mlir::dsv3::detail {

/// silu(g) · u element-wise on two f32 [rows, n] tensors, with
/// silu(g) = g / (1 + exp(-g)) as Hugging Face's SiLU computes it.
Value buildSwiGLU(OpBuilder &b, Location loc, Value g, Value u);

} // namespace mlir::dsv3::detail

#endif // DSV3_TRANSFORMS_FEEDFORWARD_H
