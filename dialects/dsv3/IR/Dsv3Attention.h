//===- Dsv3Attention.h - MLA constants shared by ops and importers -*- C++
//-*-===//
//
// The YaRN scalars of docs/semantics.md §9, computed once here so that the rope
// lowering, the softmax scale of dsv3.latent_attention and graph builders
// agree; and the bound on the keys any query can see (§10.5), which the
// attention lowering, its host strategy and the naive MLA form share.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_IR_DSV3ATTENTION_H
#define DSV3_IR_DSV3ATTENTION_H

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <optional>

namespace mlir::dsv3 {

/// YaRN attention temperature m(s, c) = 0.1·c·ln(s) + 1, or 1 when s <= 1
/// (docs/semantics.md §9.2). Hugging Face's `get_mscale`; c = 0 also gives 1.
double yarnMscale(double factor, double mscale);

/// DeepSeek's softmax scale (docs/semantics.md §9.3, trap §15.1):
/// (qkNope + qkRope)^-0.5 · m(factor, mscale)² with YaRN (factor given),
/// (qkNope + qkRope)^-0.5 without. `mscale` is `rope_scaling.mscale_all_dim`
/// (equal to `mscale` in every official config). V3: 128, 64, 40, 1 ->
/// 0.1352338.
double mlaSoftmaxScale(int64_t qkNopeHeadDim, int64_t qkRopeHeadDim,
                       std::optional<double> factor, double mscale);

/// YaRN parameters of docs/semantics.md §9.1 (Hugging Face `rope_scaling`
/// keys).
struct YarnConfig {
  double factor;
  int64_t originalMaxPositionEmbeddings;
  double betaFast = 32.0;
  double betaSlow = 1.0;
};

/// Rotary frequencies f'_i, i = 0 .. dim/2-1, in f64 (docs/semantics.md §8.1,
/// §9.1).
llvm::SmallVector<double> ropeFrequencies(int64_t dim, double theta,
                                          std::optional<YarnConfig> yarn);

/// n = clamp(max_b kv_len[b], 0, maxSeqLen) as an index, from the [B] i64
/// `kv_len` tensor (B static): cache rows t >= n are hidden from every query
/// (docs/semantics.md §10.5), so attention need not read them.
Value buildVisibleKeyBound(OpBuilder &b, Location loc, Value kvLen,
                           int64_t maxSeqLen);

} // namespace mlir::dsv3

#endif // DSV3_IR_DSV3ATTENTION_H
