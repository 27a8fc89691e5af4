//===- Import.h - Hugging Face DeepSeek checkpoints to dsv3 graphs -*- C++
//-*-===//
//
// dsv3-import's library: reads a model directory's config.json (Hugging Face
// keys) and, when present, its safetensors headers, and builds the whole
// model as dsv3 ops: one private function per kind of decoder layer (dense,
// MoE) and per token count, called once per layer with that layer's weights
// and latent cache, and the entries `prefill` and `decode`.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_IMPORT_H
#define DSV3_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::dsv3::import {

/// The YaRN `rope_scaling` keys (null when the config has none).
struct RopeScaling {
  double factor = 1.0;
  int64_t originalMaxPositionEmbeddings = 0;
  std::optional<double> betaFast, betaSlow, mscale, mscaleAllDim;
};

/// What dsv3 reads of a DeepseekV3ForCausalLM / DeepseekV2ForCausalLM
/// config.json, after validation.
struct ModelConfig {
  std::string architecture;
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0;
  int64_t numHiddenLayers = 0, numAttentionHeads = 0;
  int64_t qLoraRank = 0; // 0: null (a single q_proj)
  int64_t kvLoraRank = 0, qkNopeHeadDim = 0, qkRopeHeadDim = 0, vHeadDim = 0;
  double rmsNormEps = 1e-6, ropeTheta = 10000.0;
  std::optional<RopeScaling> ropeScaling;
  int64_t maxPositionEmbeddings = 0;
  // MoE (nRoutedExperts = 0: every layer dense).
  int64_t nRoutedExperts = 0, nSharedExperts = 0, numExpertsPerTok = 0;
  int64_t moeIntermediateSize = 0, nGroup = 1, topkGroup = 1;
  int64_t firstKDenseReplace = 0, moeLayerFreq = 1;
  std::string topkMethod = "greedy", scoringFunc = "softmax";
  bool normTopkProb = false;
  double routedScalingFactor = 1.0;
  int64_t numNextnPredictLayers = 0;
  bool tieWordEmbeddings = false;
  std::string torchDtype = "bfloat16";
  bool fp8 = false; // quantization_config: fp8 e4m3, 128x128 blocks

  /// Dense MLP (true) or MoE (false) for decoder layer `l`, by the rule of
  /// DeepSeek's modeling code: MoE iff experts exist, l >=
  /// first_k_dense_replace and l % moe_layer_freq == 0.
  bool isDenseLayer(int64_t l) const;
};

/// Parses and validates `path` (a config.json). Every key is either used,
/// known to have no effect on inference, or an error naming it; so is every
/// value dsv3 does not support.
llvm::Expected<ModelConfig> parseConfig(const std::string &path);

/// One tensor of a checkpoint, from its safetensors header.
struct CheckpointTensor {
  std::string dtype; // safetensors spelling: F8_E4M3, BF16, F32, ...
  std::vector<int64_t> shape;
  std::string file;
};

/// Reads the tensor table of a model directory (model.safetensors.index.json
/// and the shards it names, or every *.safetensors); std::nullopt when the
/// directory holds no weights at all.
llvm::Expected<std::optional<std::map<std::string, CheckpointTensor>>>
readCheckpoint(const std::string &dir);

struct ImportOptions {
  /// Tokens per prefill call: 0 (kDynamicTokens) compiles one prefill for
  /// any count in [1, max_seq_len], a dynamic token dimension; P > 0 a
  /// static one (a prompt is then prefilled in chunks of P, the rest one
  /// token at a time by `decode`).
  static constexpr int64_t kDynamicTokens = 0;
  int64_t prefillTokens = kDynamicTokens;
  /// Rows of every layer's latent cache (max_seq_len).
  int64_t maxSeqLen = 4096;
  /// bf16 (the checkpoint's) or f32 activations and caches.
  bool f32Activations = false;
  /// Prefill returns the logits of every token instead of the last one.
  bool allLogits = false;
  /// Emit the multi-token-prediction module (layer num_hidden_layers of the
  /// checkpoint) as the entries `mtp_prefill` and `mtp_decode`, the main
  /// model's `verify` entry (every token's logits and hidden state) and a
  /// `hidden_states` result of `prefill`. Needs num_nextn_predict_layers >= 1.
  bool mtp = false;
  /// Read lm_head (and the MTP layer's shared_head.head) as block FP8: the
  /// runtime quantizes the checkpoint's bf16 tensor at bind time in 128x128
  /// blocks (dsv3.parameter's quantized_from), so each step's head reads
  /// half the bytes. Changes the logits by the FP8 rounding; off by default.
  /// Refused for tied embeddings.
  bool quantizeLmHead = false;
};

/// Builds the whole model. Errors name the option or config key at fault.
llvm::Expected<OwningOpRef<ModuleOp>> buildModel(MLIRContext *ctx,
                                                 const ModelConfig &config,
                                                 const ImportOptions &options);

/// Every parameter the graph reads, after decomposition, with stacked
/// parameters expanded per expert: name -> (safetensors dtype, shape).
llvm::Expected<std::map<std::string, CheckpointTensor>>
collectParameters(ModuleOp module);

} // namespace mlir::dsv3::import

#endif // DSV3_IMPORT_H
