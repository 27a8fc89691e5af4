//===- ModelConfig.cpp - config.json (Hugging Face keys) ------------------===//
//
// Strict by design: a key that would change the model and that dsv3 does not
// implement must stop the import, never fall back to a default silently.
// Each key is used, listed as irrelevant to inference, or an error.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Import.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace mlir::dsv3::import;
using llvm::json::Object;
using llvm::json::Value;

namespace {

/// Reads typed values out of one JSON object, remembering which keys were
/// consumed, and reports the first fault as "<file>: key '<k>': <why>".
class KeyReader {
public:
  KeyReader(std::string file, const Object &obj, std::string scope = "")
      : file(std::move(file)), obj(obj), scope(std::move(scope)) {}

  llvm::Error error(llvm::StringRef key, const llvm::Twine &why) const {
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        llvm::formatv("{0}: key '{1}{2}': {3}", file, scope, key, why.str()));
  }

  const Value *get(llvm::StringRef key) {
    seen.insert(key);
    return obj.get(key);
  }
  bool isNull(llvm::StringRef key) {
    const Value *v = get(key);
    return !v || v->kind() == Value::Null;
  }

  /// An integer in [min, max]; `fallback` when absent (or null and
  /// `nullMeans` is given).
  llvm::Expected<int64_t> integer(llvm::StringRef key, int64_t min, int64_t max,
                                  std::optional<int64_t> fallback = {}) {
    const Value *v = get(key);
    if (!v || v->kind() == Value::Null) {
      if (fallback)
        return *fallback;
      return error(key, v ? "is null, an integer is required"
                          : "is missing, an integer is required");
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return error(key, "must be an integer");
    if (*i < min || *i > max)
      return error(key,
                   llvm::formatv("{0} is outside [{1}, {2}]", *i, min, max));
    return *i;
  }

  llvm::Expected<double> number(llvm::StringRef key, double min, double max,
                                std::optional<double> fallback = {}) {
    const Value *v = get(key);
    if (!v || v->kind() == Value::Null) {
      if (fallback)
        return *fallback;
      return error(key, "is missing, a number is required");
    }
    std::optional<double> d = v->getAsNumber();
    if (!d || !std::isfinite(*d))
      return error(key, "must be a finite number");
    if (*d < min || *d > max)
      return error(key,
                   llvm::formatv("{0} is outside [{1}, {2}]", *d, min, max));
    return *d;
  }

  llvm::Expected<bool> boolean(llvm::StringRef key, bool fallback) {
    const Value *v = get(key);
    if (!v || v->kind() == Value::Null)
      return fallback;
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return error(key, "must be true or false");
    return *b;
  }

  llvm::Expected<std::string> string(llvm::StringRef key,
                                     std::optional<std::string> fallback = {}) {
    const Value *v = get(key);
    if (!v || v->kind() == Value::Null) {
      if (fallback)
        return *fallback;
      return error(key, "is missing, a string is required");
    }
    std::optional<llvm::StringRef> s = v->getAsString();
    if (!s)
      return error(key, "must be a string");
    return s->str();
  }

  /// Keys present but never read: each is an error unless `ignorable`.
  llvm::Error checkUnused(const llvm::StringSet<> &ignorable) const {
    std::vector<std::string> keys;
    for (const auto &kv : obj)
      keys.push_back(kv.first.str());
    std::sort(keys.begin(), keys.end());
    for (const std::string &k : keys)
      if (!seen.contains(k) && !ignorable.contains(k))
        return error(k, "is not supported by dsv3 (it may change the model; "
                        "remove it only if it does not)");
    return llvm::Error::success();
  }

  std::string file;

private:
  const Object &obj;
  std::string scope;
  llvm::StringSet<> seen;
};

#define TRY(var, expr)                                                         \
  auto var##OrErr = (expr);                                                    \
  if (!var##OrErr)                                                             \
    return var##OrErr.takeError();                                             \
  auto var = *var##OrErr

constexpr int64_t kMaxDim = int64_t{1} << 24; // 16M: no DeepSeek size is near
/// The released models have 27 to 61 layers. Building the model costs time
/// and memory superlinear in the depth (4096 layers: 19 s and 4 GB in a
/// release build, found by hand-written extremes for config_fuzzer), so a
/// depth far beyond any DeepSeek model is refused.
constexpr int64_t kMaxLayers = 512;

/// Keys with no effect on the function inference computes (training-only
/// losses, bookkeeping, token ids the generation loop reads itself).
const llvm::StringSet<> &ignorableKeys() {
  static const llvm::StringSet<> keys = {"_name_or_path",
                                         "auto_map",
                                         "transformers_version",
                                         "bos_token_id",
                                         "eos_token_id",
                                         "pad_token_id",
                                         "initializer_range",
                                         "use_cache",
                                         "attention_dropout",
                                         "aux_loss_alpha",
                                         "seq_aux",
                                         "ep_size",
                                         "pretraining_tp",
                                         "output_router_logits",
                                         "router_aux_loss_coef",
                                         "head_dim",
                                         "return_dict",
                                         "output_hidden_states",
                                         "output_attentions",
                                         "torchscript",
                                         "use_bfloat16",
                                         "chunk_size_feed_forward",
                                         "is_encoder_decoder",
                                         "tokenizer_class",
                                         "id2label",
                                         "label2id",
                                         "problem_type",
                                         "model_type"};
  return keys;
}

llvm::Error readRope(KeyReader &r, ModelConfig &c) {
  // transformers 5 writes rope_parameters (with rope_type and rope_theta);
  // DeepSeek's config.json has rope_theta and rope_scaling.
  const Value *scaling = r.get("rope_scaling");
  const Value *params = r.get("rope_parameters");
  if (scaling && scaling->kind() != Value::Null && params &&
      params->kind() != Value::Null)
    return r.error("rope_parameters",
                   "given together with rope_scaling; keep one");
  const char *key = scaling && scaling->kind() != Value::Null
                        ? "rope_scaling"
                        : "rope_parameters";
  const Value *v = scaling && scaling->kind() != Value::Null ? scaling : params;
  double theta = 10000.0;
  if (!r.isNull("rope_theta")) {
    TRY(t, r.number("rope_theta", 1.0 + 1e-9, 1e12));
    theta = t;
  }
  c.ropeTheta = theta;
  if (!v || v->kind() == Value::Null)
    return llvm::Error::success();
  const Object *o = v->getAsObject();
  if (!o)
    return r.error(key, "must be an object or null");
  KeyReader s(r.file, *o, std::string(key) + ".");
  std::string type;
  if (!s.isNull("rope_type")) {
    TRY(t, s.string("rope_type"));
    type = t;
  }
  if (!s.isNull("type")) {
    TRY(t, s.string("type"));
    if (!type.empty() && t != type)
      return s.error("type", "disagrees with rope_type");
    type = t;
  }
  if (!s.isNull("rope_theta")) {
    TRY(t, s.number("rope_theta", 1.0 + 1e-9, 1e12));
    c.ropeTheta = t;
  }
  if (type == "default" || (type.empty() && !o->get("factor")))
    return s.checkUnused({});
  if (type != "yarn")
    return s.error(type.empty() ? "rope_type" : "type",
                   "'" + type +
                       "' is not supported (dsv3 implements YaRN "
                       "and no scaling)");
  RopeScaling y;
  TRY(factor, s.number("factor", 1e-6, 1e6));
  y.factor = factor;
  TRY(orig, s.integer("original_max_position_embeddings", 1, INT64_C(1) << 40));
  y.originalMaxPositionEmbeddings = orig;
  TRY(bf, s.number("beta_fast", 1e-9, 1e9, 32.0));
  y.betaFast = bf;
  TRY(bs, s.number("beta_slow", 1e-9, 1e9, 1.0));
  y.betaSlow = bs;
  if (!s.isNull("mscale")) {
    TRY(m, s.number("mscale", -1e6, 1e6));
    y.mscale = m;
  }
  if (!s.isNull("mscale_all_dim")) {
    TRY(m, s.number("mscale_all_dim", -1e6, 1e6));
    y.mscaleAllDim = m;
  }
  c.ropeScaling = y;
  // attention_factor and truncate change Hugging Face's YaRN; not modelled.
  return s.checkUnused({});
}

llvm::Error readQuantization(KeyReader &r, ModelConfig &c) {
  if (r.isNull("quantization_config"))
    return llvm::Error::success();
  const Object *o = r.get("quantization_config")->getAsObject();
  if (!o)
    return r.error("quantization_config", "must be an object");
  KeyReader q(r.file, *o, "quantization_config.");
  TRY(method, q.string("quant_method"));
  if (method != "fp8")
    return q.error("quant_method", "'" + method +
                                       "' is not supported (dsv3 reads "
                                       "DeepSeek's block FP8 checkpoints)");
  TRY(fmt, q.string("fmt", std::string("e4m3")));
  if (fmt != "e4m3")
    return q.error("fmt", "'" + fmt + "' is not supported (e4m3 only)");
  TRY(scheme, q.string("activation_scheme", std::string("dynamic")));
  if (scheme != "dynamic")
    return q.error("activation_scheme",
                   "'" + scheme + "' is not supported (dynamic only)");
  const Value *block = q.get("weight_block_size");
  const llvm::json::Array *a = block ? block->getAsArray() : nullptr;
  if (!a)
    return q.error("weight_block_size", "is required: a list [rows, cols]");
  if (a->size() != 2 || (*a)[0].getAsInteger() != 128 ||
      (*a)[1].getAsInteger() != 128)
    return q.error("weight_block_size",
                   "only [128, 128] is supported (the block of dsv3.linear's "
                   "weight_scale_inv)");
  if (!q.isNull("scale_fmt")) {
    TRY(sf, q.string("scale_fmt"));
    // DeepSeek-V3.1: UE8M0 activation scales in DeepSeek's kernels; the
    // stored weight scales stay f32, which is what dsv3 reads.
    if (sf != "ue8m0")
      return q.error("scale_fmt", "'" + sf + "' is not supported");
  }
  c.fp8 = true;
  return q.checkUnused({"modules_to_not_convert"});
}

/// Every weight the graph will read, in elements, must fit comfortably in
/// 64-bit arithmetic (the shapes, strides and byte sizes derived from it):
/// each key is bounded above, but their products are not.
llvm::Error checkSizes(KeyReader &r, const ModelConfig &c) {
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  auto check = [&](llvm::StringRef key,
                   llvm::ArrayRef<int64_t> dims) -> llvm::Error {
    int64_t n = 1;
    for (int64_t d : dims)
      if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements)
        return r.error(key, "gives a weight of more than 2^40 elements");
    return llvm::Error::success();
  };
  int64_t qk = c.qkNopeHeadDim + c.qkRopeHeadDim;
  int64_t qIn = c.qLoraRank ? c.qLoraRank : c.hiddenSize;
  const std::pair<llvm::StringRef, std::vector<int64_t>> weights[] = {
      {"vocab_size", {c.vocabSize, c.hiddenSize}},
      {"num_attention_heads", {c.numAttentionHeads, qk, qIn}},
      {"num_attention_heads",
       {c.numAttentionHeads, c.qkNopeHeadDim + c.vHeadDim, c.kvLoraRank}},
      {"num_attention_heads", {c.numAttentionHeads, c.vHeadDim, c.hiddenSize}},
      {"intermediate_size", {c.intermediateSize, c.hiddenSize}},
      {"n_routed_experts",
       {std::max<int64_t>(c.nRoutedExperts, 1), c.moeIntermediateSize,
        c.hiddenSize}},
      {"n_shared_experts",
       {c.nSharedExperts, c.moeIntermediateSize, c.hiddenSize}}};
  for (const auto &[key, dims] : weights)
    if (llvm::Error e = check(key, dims))
      return e;
  return llvm::Error::success();
}

llvm::Error readConfig(KeyReader &r, ModelConfig &c) {
  const Value *arch = r.get("architectures");
  const llvm::json::Array *archs = arch ? arch->getAsArray() : nullptr;
  if (!archs || archs->size() != 1 || !(*archs)[0].getAsString())
    return r.error("architectures", "must be a list of one class name");
  c.architecture = (*archs)[0].getAsString()->str();
  if (c.architecture != "DeepseekV3ForCausalLM" &&
      c.architecture != "DeepseekV2ForCausalLM")
    return r.error("architectures",
                   "'" + c.architecture +
                       "' is not supported (DeepseekV3ForCausalLM or "
                       "DeepseekV2ForCausalLM)");

  TRY(vocab, r.integer("vocab_size", 1, INT64_C(1) << 31));
  c.vocabSize = vocab;
  TRY(hidden, r.integer("hidden_size", 1, kMaxDim));
  c.hiddenSize = hidden;
  TRY(layers, r.integer("num_hidden_layers", 1, kMaxLayers));
  c.numHiddenLayers = layers;
  TRY(heads, r.integer("num_attention_heads", 1, 4096));
  c.numAttentionHeads = heads;
  if (!r.isNull("num_key_value_heads")) {
    TRY(kvh, r.integer("num_key_value_heads", 1, 4096));
    // MLA has one latent per token; HF's key only mirrors the heads.
    if (kvh != heads)
      return r.error("num_key_value_heads",
                     llvm::formatv("{0} differs from num_attention_heads {1}; "
                                   "MLA has no grouped heads",
                                   kvh, heads));
  }
  TRY(qlora, r.integer("q_lora_rank", 1, kMaxDim, 0));
  c.qLoraRank = qlora;
  TRY(kvlora, r.integer("kv_lora_rank", 1, kMaxDim));
  c.kvLoraRank = kvlora;
  TRY(nope, r.integer("qk_nope_head_dim", 1, kMaxDim));
  c.qkNopeHeadDim = nope;
  TRY(rope, r.integer("qk_rope_head_dim", 2, kMaxDim));
  if (rope % 2)
    return r.error("qk_rope_head_dim", "must be even");
  c.qkRopeHeadDim = rope;
  TRY(v, r.integer("v_head_dim", 1, kMaxDim));
  c.vHeadDim = v;
  TRY(eps, r.number("rms_norm_eps", 1e-30, 1.0, 1e-6));
  c.rmsNormEps = eps;
  TRY(maxPos, r.integer("max_position_embeddings", 1, INT64_C(1) << 40));
  c.maxPositionEmbeddings = maxPos;
  if (llvm::Error e = readRope(r, c))
    return e;

  TRY(act, r.string("hidden_act", std::string("silu")));
  if (act != "silu")
    return r.error("hidden_act", "'" + act + "' is not supported (silu)");
  TRY(bias, r.boolean("attention_bias", false));
  if (bias)
    return r.error("attention_bias", "true is not supported");
  TRY(mlpBias, r.boolean("mlp_bias", false));
  if (mlpBias)
    return r.error("mlp_bias", "true is not supported");
  TRY(interleave, r.boolean("rope_interleave", true));
  if (!interleave)
    return r.error("rope_interleave",
                   "false is not supported (DeepSeek's interleaved rope)");

  TRY(inter, r.integer("intermediate_size", 1, kMaxDim));
  c.intermediateSize = inter;
  TRY(experts, r.integer("n_routed_experts", 1, 1 << 16, 0));
  c.nRoutedExperts = experts;
  if (experts > 0) {
    TRY(moeInter, r.integer("moe_intermediate_size", 1, kMaxDim));
    c.moeIntermediateSize = moeInter;
    TRY(k, r.integer("num_experts_per_tok", 1, experts));
    c.numExpertsPerTok = k;
    TRY(shared, r.integer("n_shared_experts", 0, 1 << 10, 0));
    c.nSharedExperts = shared;
    TRY(groups, r.integer("n_group", 1, experts, 1));
    c.nGroup = groups;
    TRY(kept, r.integer("topk_group", 1, groups, 1));
    c.topkGroup = kept;
    TRY(method, r.string("topk_method", std::string("greedy")));
    if (method != "greedy" && method != "group_limited_greedy" &&
        method != "noaux_tc")
      return r.error("topk_method",
                     "'" + method +
                         "' is not supported (greedy, group_limited_greedy, "
                         "noaux_tc)");
    c.topkMethod = method;
    TRY(score, r.string("scoring_func", std::string("softmax")));
    if (score != "softmax" && score != "sigmoid")
      return r.error("scoring_func",
                     "'" + score + "' is not supported (softmax, sigmoid)");
    c.scoringFunc = score;
    TRY(norm, r.boolean("norm_topk_prob", false));
    c.normTopkProb = norm;
    TRY(scale, r.number("routed_scaling_factor", 1e-9, 1e9, 1.0));
    c.routedScalingFactor = scale;
    // dsv3.moe renormalises and then scales (V3). DeepSeek's V2 code
    // renormalises *instead of* scaling and Hugging Face's V2 ignores the
    // key; no released V2 sets it, so refuse rather than pick one.
    if (c.architecture == "DeepseekV2ForCausalLM" && norm && scale != 1.0)
      return r.error("norm_topk_prob",
                     "true with routed_scaling_factor != 1 is ambiguous for "
                     "DeepseekV2ForCausalLM (DeepSeek's code renormalises "
                     "without scaling, Hugging Face's ignores the key)");
    TRY(firstDense, r.integer("first_k_dense_replace", 0, layers, 0));
    c.firstKDenseReplace = firstDense;
    TRY(freq, r.integer("moe_layer_freq", 1, layers, 1));
    c.moeLayerFreq = freq;
  } else {
    // Without experts these keys have nothing to configure.
    for (llvm::StringRef k :
         {"moe_intermediate_size", "num_experts_per_tok", "n_shared_experts",
          "n_group", "topk_group", "topk_method", "scoring_func",
          "norm_topk_prob", "routed_scaling_factor", "first_k_dense_replace",
          "moe_layer_freq"})
      r.get(k);
  }
  TRY(mtp, r.integer("num_nextn_predict_layers", 0, 16, 0));
  c.numNextnPredictLayers = mtp;
  TRY(tie, r.boolean("tie_word_embeddings", false));
  c.tieWordEmbeddings = tie;
  std::string dtypeKey = r.isNull("torch_dtype") ? "dtype" : "torch_dtype";
  TRY(dtype, r.string(dtypeKey, std::string("bfloat16")));
  if (dtype != "bfloat16" && dtype != "float32")
    return r.error(dtypeKey,
                   "'" + dtype + "' is not supported (bfloat16, float32)");
  c.torchDtype = dtype;
  if (llvm::Error e = readQuantization(r, c))
    return e;
  if (llvm::Error e = checkSizes(r, c))
    return e;
  return r.checkUnused(ignorableKeys());
}

/// llvm::json::parse recurses once per level of nesting, and so does the
/// value's destructor: a config.json of a few MB of '[' overflowed the
/// stack. A config nests 3 levels; refuse more than kMaxNesting before
/// parsing. Brackets inside strings do not count; after a syntax error the
/// count may be off, but the parser stops there anyway.
constexpr int kMaxNesting = 64;

bool nestedTooDeep(llvm::StringRef text) {
  int depth = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (inString) {
      if (ch == '\\')
        ++i;
      else if (ch == '"')
        inString = false;
    } else if (ch == '"') {
      inString = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > kMaxNesting)
        return true;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return false;
}

} // namespace

bool ModelConfig::isDenseLayer(int64_t l) const {
  return nRoutedExperts == 0 || l < firstKDenseReplace || l % moeLayerFreq != 0;
}

llvm::Expected<ModelConfig>
mlir::dsv3::import::parseConfig(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError(buffer.getError(), "%s: cannot read: %s",
                                   path.c_str(),
                                   buffer.getError().message().c_str());
  if (nestedTooDeep((*buffer)->getBuffer()))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: not valid JSON: nested deeper than %d "
                                   "levels",
                                   path.c_str(), kMaxNesting);
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: not valid JSON: %s", path.c_str(),
                                   llvm::toString(json.takeError()).c_str());
  const Object *obj = json->getAsObject();
  if (!obj)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "%s: must hold a JSON object", path.c_str());
  ModelConfig config;
  KeyReader reader(path, *obj);
  if (llvm::Error e = readConfig(reader, config))
    return std::move(e);
  return config;
}
