// Speculative decoding with DeepSeek's multi-token-prediction (MTP) module:
// the MTP entries of a dsv3-import module draft the token after next, and one
// two-token main-model call ("verify") checks the draft and gives the next
// token either way. Lossless: the tokens are the main model's (greedy: the
// same ids as plain greedy generation; sampling: the same distribution, by
// the speculative-sampling rule). Like Generate.h, a library on the public
// C++ API only.
#ifndef DSV3_LIB_RUNTIME_SPECULATIVE_H
#define DSV3_LIB_RUNTIME_SPECULATIVE_H

#include "Generate.h"

namespace dsv3rt {

// A probability distribution over token ids, as Sampler::distribution gives
// it: (id, probability) pairs, probabilities summing to 1.
using Distribution = std::vector<std::pair<int64_t, double>>;

// The speculative-sampling rule (Leviathan et al. 2023; Chen et al. 2023):
// `draft` was drawn from q. It is kept with probability min(1, p(draft) /
// q(draft)); otherwise the result is drawn from max(0, p - q), normalized.
// Either way the result is distributed exactly as p. Returns (token, kept).
// One or two uniform draws from rng. Throws if draft has q(draft) = 0.
std::pair<int64_t, bool> speculativeAccept(const Distribution &p,
                                           const Distribution &q, int64_t draft,
                                           Rng &rng);

struct SpeculativeResult : GenerateResult {
  int64_t verifyCalls = 0;     // two-token main-model calls after the prefill
  int64_t drafted = 0;         // drafts checked
  int64_t accepted = 0;        // drafts kept
  double mtpPromptSeconds = 0; // the prompt through the MTP module
  double mtpSeconds = 0;       // MTP calls after it
  double verifySeconds = 0;
  // Rows of the main model's caches that hold accepted tokens (a rejected
  // draft's row is past them), and of the MTP layer's cache, which trails
  // by the rows of the last step when generation stops after a verify.
  int64_t cachedRows = 0, mtpCachedRows = 0;
  // From the first token to the last, the MTP pass over the prompt
  // excluded: the span that the sum of decodeSeconds covers in plain
  // decoding (which stays empty here).
  double decodeTotalSeconds = 0;
};

// Drives a dsv3-import module with an MTP module (--mtp): the entries
//   prefill(input_ids [1,P], positions, start_pos, kv_len)
//       -> logits, hidden_states [1,P,H]
//   verify(input_ids [1,2], ...) -> logits [2,V], hidden_states [1,2,H]
//   mtp_prefill(input_ids [1,P], hidden_states [1,P,H], positions,
//               start_pos, kv_len) -> logits
//   mtp_decode (the same, one token)
// with P dynamic (any count), or static, and then also
//   decode(input_ids [1,1], ...) -> logits, hidden_states [1,1,H]
// for the remainder of a prompt. The main model's caches and the MTP layer's
// are session state; a rejected draft's cache row is simply overwritten by
// the next call (kv_len bounds what attention reads), so rolling back is
// resetting the position.
class MtpSpeculator {
public:
  // Throws Error, naming what is missing, unless the module has the entries
  // above.
  MtpSpeculator(Session &session, Module &module);
  void setEosIds(std::vector<int64_t> ids);
  int64_t vocabSize() const { return V_; }
  int64_t maxSeqLen() const { return L_; }

  // As Generator::validate: a verify call writes the draft's row past the
  // token it checks, which is at most the row of the last new token, which
  // plain decoding leaves unwritten, so the same prompt + max_new_tokens
  // rows suffice.
  void validate(const std::vector<int64_t> &prompt,
                const GenerateOptions &options) const;
  // Resets the session's states, prefills the prompt through the main
  // model and the MTP module, then alternates verify and MTP calls.
  SpeculativeResult generate(const std::vector<int64_t> &prompt,
                             const GenerateOptions &options,
                             const TokenCallback &onToken = {});

private:
  struct Entry {
    size_t index = 0;
    std::vector<std::string> inputs; // input names in order
    size_t outputs = 0;
    int64_t tokens = 0; // input_ids' token count, -1 when dynamic
  };
  // Calls body(entry, start, count) over n prompt tokens: chunks through
  // prefill_, and for a static prefill the remainder one by one through
  // decode_.
  void forChunks(
      int64_t n,
      const std::function<void(const Entry &, int64_t, int64_t)> &body) const;
  // `mtp`: an MTP entry, which takes hidden_states (the main model's
  // entries return them).
  Entry inspect(const char *name, bool mtp);
  // Calls e on `count` tokens at `start` (hidden: [count, H] rows, for the
  // MTP entries); returns its outputs.
  std::vector<Tensor> call(const Entry &e, const int64_t *ids, int64_t count,
                           int64_t start, const void *hidden = nullptr);
  // The last row of a logits output.
  static const float *lastRow(const Tensor &logits, int64_t V);

  Session &session_;
  Module &module_;
  Entry prefill_, decode_, verify_, mtpPrefill_, mtpDecode_;
  int64_t V_ = 0, L_ = 0, H_ = 0;
  dsv3_dtype hiddenType_ = DSV3_DTYPE_F32;
  size_t hiddenRowBytes_ = 0;
  std::vector<int64_t> eos_;
};

} // namespace dsv3rt

#endif // DSV3_LIB_RUNTIME_SPECULATIVE_H
