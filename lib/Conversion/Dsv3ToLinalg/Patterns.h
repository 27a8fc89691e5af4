//===- Patterns.h - lowering patterns per dsv3 op family --------*- C++ -*-===//
//
// Each op family's lowering lives in its own file and registers its patterns
// here; dsv3-lower-to-linalg applies all of them.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_CONVERSION_DSV3TOLINALG_PATTERNS_H
#define DSV3_CONVERSION_DSV3TOLINALG_PATTERNS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::dsv3 {
/// quantize, dequantize, linear, rms_norm (LowerCoreOps.cpp).
void populateCoreOpsLoweringPatterns(RewritePatternSet &patterns);
/// embedding (LowerModelOps.cpp).
void populateModelOpsLoweringPatterns(RewritePatternSet &patterns);
/// moe_gate, expert_bias_update, expert_dispatch, grouped_matmul,
/// expert_combine (LowerMoE.cpp).
void populateMoELoweringPatterns(RewritePatternSet &patterns);
/// rope, latent_attention, attention_merge, kv_cache_update
/// (LowerAttention.cpp). With `boundByKvLen`, attention visits only the
/// cache rows below max(kv_len) and the cache update writes only the new
/// rows (work proportional to the tokens, not to max_seq_len).
void populateAttentionLoweringPatterns(RewritePatternSet &patterns,
                                       bool boundByKvLen);
} // namespace mlir::dsv3

#endif // DSV3_CONVERSION_DSV3TOLINALG_PATTERNS_H
