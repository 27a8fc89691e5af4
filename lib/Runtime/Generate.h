// Token generation over a whole-model module (dsv3-import output): the
// prefill/decode loop, sampling and stop conditions. A small library on the
// public C API (through dsv3rt.hpp): no LLVM, no access to the runtime's
// internals, so anything here could equally be written by a user of
// libdsv3rt.
//
// Sampling happens here, on the host, over the logits an entry returns: on
// the host target they already are host memory, so sampling costs one pass
// over V floats and no copy. On cuda the runtime copies the [1, V] logits
// back after every step (V * 4 bytes, ~0.5 MB for V3); a device-side argmax
// (or top-k) in the graph would avoid that copy but is not done yet.
#ifndef DSV3_LIB_RUNTIME_GENERATE_H
#define DSV3_LIB_RUNTIME_GENERATE_H

#include "dsv3/Runtime/dsv3rt.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace dsv3rt {

// ---- sampling ----

struct SamplingOptions {
  // 0: greedy (argmax, ties to the lowest id). Otherwise tokens are drawn
  // from softmax(logits / temperature), restricted by topK and topP.
  double temperature = 0;
  // Keep only the topK largest logits (ties to lower ids); 0: no limit. 1 is
  // greedy whatever the temperature.
  int64_t topK = 0;
  // Nucleus: after top-k, keep the smallest prefix of the candidates in
  // decreasing probability whose mass reaches topP (a candidate is kept iff
  // the mass strictly before it is < topP; so the first is always kept).
  // In (0, 1]; 1 keeps every candidate.
  double topP = 1;
  uint64_t seed = 0;
};

// Throws Error naming the bad option: temperature negative, NaN or
// infinite; topK negative; topP outside (0, 1] or NaN.
void validateSampling(const SamplingOptions &options);

// A PRNG whose stream depends only on the seed: std::mt19937_64's output is
// fixed by the C++ standard, and uniform() is computed here from its bits
// (std::uniform_real_distribution's output is implementation-defined).
class Rng {
public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  uint64_t next() { return engine_(); }
  // Uniform in [0, 1): the top 53 bits of one 64-bit draw, times 2^-53.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

private:
  std::mt19937_64 engine_;
};

// Argmax of logits[0..n), ties to the lowest id. Throws on n == 0 or a NaN.
int64_t argmax(const float *logits, size_t n);

class Sampler {
public:
  // Validates the options (validateSampling) and seeds the PRNG.
  explicit Sampler(const SamplingOptions &options);
  const SamplingOptions &options() const { return options_; }
  // Temperature 0 or top-k 1: argmax, no PRNG draw.
  bool greedy() const {
    return options_.temperature == 0 || options_.topK == 1;
  }

  // The distribution sample() draws from, as (id, probability) pairs in the
  // order the draw walks them, with probabilities summing to 1 (up to
  // rounding). Computed in float64: p_i = exp((l_i - max) / T) / Z over the
  // top-k candidates, then cut to the nucleus and renormalised. Candidates
  // are in decreasing logit order (ties: lower id first) when top-k or top-p
  // cut, else in id order. Greedy: one pair (argmax, 1). Throws on an empty
  // or NaN logit vector.
  std::vector<std::pair<int64_t, double>> distribution(const float *logits,
                                                       size_t n);
  // Greedy: argmax. Otherwise one PRNG draw u in [0, 1) and the first
  // candidate whose cumulative probability exceeds u * (total mass).
  int64_t sample(const float *logits, size_t n);
  int64_t sample(const std::vector<float> &logits) {
    return sample(logits.data(), logits.size());
  }
  void reseed(uint64_t seed) { rng_ = Rng(seed); }

private:
  SamplingOptions options_;
  Rng rng_;
  std::vector<int32_t> order_; // scratch: candidate ids
  std::vector<double> weight_; // scratch: unnormalised probabilities
};

// ---- generation ----

// The eos_token_id of MODEL_DIR/config.json: an int or a list of ints;
// absent or null (or no config.json) -> none. Throws on malformed JSON or
// another type, naming the file.
std::vector<int64_t> readEosTokenIds(const std::string &modelDir);

enum class StopReason {
  MaxNewTokens, // generated max_new_tokens
  StopToken,    // generated an eos or stop id (the last token of the result)
  Callback,     // the per-token callback returned false
};
const char *stopReasonName(StopReason reason);

struct GenerateOptions {
  int64_t maxNewTokens = 0;
  SamplingOptions sampling;
  std::vector<int64_t> stopIds; // stop after any of these, besides the eos ids
};

struct GenerateResult {
  std::vector<int64_t> tokens; // new tokens; a stop token is included
  StopReason reason = StopReason::MaxNewTokens;
  int64_t promptTokens = 0;
  int64_t prefillCalls = 0;       // chunks of P tokens through "prefill"
  int64_t prefillDecodeCalls = 0; // the prompt's remainder through "decode"
  double prefillSeconds = 0;      // the prompt through the model (no sampling)
  double firstTokenSeconds = 0;   // prefill + sampling the first token
  // One per token after the first: the decode call that fed the previous
  // token plus sampling this one (callback time excluded).
  std::vector<double> decodeSeconds;
};

// Throws Error, naming the fault, unless the prompt is non-empty with ids in
// [0, V), max_new_tokens >= 0, prompt + max_new_tokens fits in L cache rows,
// the stop ids are in [0, V) and the sampling options are valid.
void validateRequest(const std::vector<int64_t> &prompt,
                     const GenerateOptions &options, int64_t V, int64_t L);

// Called with each new token as soon as it is sampled; return false to stop.
using TokenCallback = std::function<bool(int64_t token)>;

// Drives the "prefill" and "decode" entries of a loaded, bound module. The
// token dimension is static: prefill takes P tokens, decode 1; the session's
// KV cache states hold L rows. Neither the session nor the module is owned;
// both must outlive the generator.
class Generator {
public:
  // Reads P, V and L from the metadata; throws Error unless the module has
  //   prefill(input_ids i64[1,P], positions i64[1,P], start_pos i64[1],
  //           kv_len i64[1]) -> logits f32[1,V] or f32[P,V]
  // (P dynamic, -1, for any token count: prompts then go in one call, or in
  // chunks of kMaxPrefillChunk),
  //   decode (input_ids i64[1,1], positions i64[1,1], start_pos i64[1],
  //           kv_len i64[1]) -> logits f32[1,V]
  // and KV cache states of shape [1, L, ...] (all with the same L >= P).
  Generator(Session &session, Module &module);

  // Tokens per prefill call: P, or the chunk limit for a dynamic prefill.
  int64_t prefillTokens() const { return dynamicPrefill_ ? chunk() : P_; }
  bool dynamicPrefill() const { return dynamicPrefill_; }
  // A dynamic prefill takes prompts in chunks of at most this many tokens,
  // which bounds the attention scores' memory ([heads, chunk, max_seq_len]).
  static constexpr int64_t kMaxPrefillChunk = 512;
  int64_t vocabSize() const { return V_; }       // V
  int64_t maxSeqLen() const { return L_; }       // L
  int64_t position() const { return position_; } // tokens cached so far

  // Tokens that end generation (config.json's eos_token_id); each must be in
  // [0, V).
  void setEosIds(std::vector<int64_t> ids);
  const std::vector<int64_t> &eosIds() const { return eos_; }

  // Appends ids to the cache at position(): chunks of P through prefill,
  // the rest one by one through decode. Returns the logits [V] after the
  // last id. Throws if ids is empty, an id is outside [0, V) or the cache
  // would overflow.
  std::vector<float> prefill(const std::vector<int64_t> &ids);
  // Appends one token through decode; returns the logits [V] after it.
  std::vector<float> step(int64_t token);
  // Appends one token through decode_greedy (dsv3-import's decode with the
  // argmax in the graph): returns the greedy next token, without the
  // logits leaving the device. Requires hasGreedyDecode().
  int64_t stepGreedy(int64_t token);
  // Whether the module has decode_greedy (modules of dsv3-import do);
  // generate() then takes greedy steps through it.
  bool hasGreedyDecode() const { return hasGreedy_; }
  // Zero-fills the session's states and rewinds to position 0.
  void reset();

  // Throws Error, before anything runs, if the prompt is empty, holds an id
  // outside [0, V), prompt + max_new_tokens exceeds L, max_new_tokens is
  // negative, a stop id is outside [0, V) or a sampling option is bad.
  void validate(const std::vector<int64_t> &prompt,
                const GenerateOptions &options) const;
  // validate(), reset() unless at position 0, prefill(prompt), then sample
  // up to maxNewTokens tokens, feeding each back through decode (the last
  // one is not fed). Stops after an eos/stop token or when onToken returns
  // false.
  GenerateResult generate(const std::vector<int64_t> &prompt,
                          const GenerateOptions &options,
                          const TokenCallback &onToken = {});

private:
  std::vector<float> call(bool usePrefill, const int64_t *ids, int64_t count);
  struct Entry;
  // Calls entry e on `count` ids at position(), advances position(); returns
  // its one output.
  Tensor run(const Entry &e, const int64_t *ids, int64_t count);
  // Throws unless token is in [0, V) and the cache has a free row.
  void checkStep(int64_t token) const;

  struct Entry {
    size_t index = 0;
    // Position of input_ids, positions, start_pos, kv_len among the inputs.
    size_t slot[4] = {0, 0, 0, 0};
    int64_t logitRows = 1;
    size_t outputs = 1; // logits (or next_token) first
  };
  Session &session_;
  Module &module_;
  Entry prefill_, decode_, greedy_;
  bool hasGreedy_ = false;
  int64_t P_ = 0, V_ = 0, L_ = 0;
  bool dynamicPrefill_ = false;
  int64_t chunk() const { return std::min(kMaxPrefillChunk, L_); }
  int64_t position_ = 0;
  std::vector<int64_t> eos_;
};

} // namespace dsv3rt

#endif // DSV3_LIB_RUNTIME_GENERATE_H
