#include "Speculative.h"

#include <chrono>
#include <cstring>
#include <unordered_map>

namespace dsv3rt {

namespace {

[[noreturn]] void fail(const std::string &message) { throw Error(message); }

const char *kContract =
    "speculative decoding needs a module from dsv3-import of a checkpoint "
    "with an MTP layer (--mtp=on or auto): entries prefill, decode and "
    "verify returning logits and hidden_states, mtp_prefill and mtp_decode "
    "taking hidden_states";

// Draws from d with one uniform number: the first entry whose cumulative
// probability exceeds u * (total mass), as Sampler::sample walks.
int64_t draw(const Distribution &d, double u) {
  double total = 0;
  for (const auto &e : d)
    total += e.second;
  const double target = u * total;
  double cumulative = 0;
  for (const auto &e : d) {
    cumulative += e.second;
    if (cumulative > target)
      return e.first;
  }
  return d.back().first; // rounding: u * total at the very top
}

} // namespace

std::pair<int64_t, bool> speculativeAccept(const Distribution &p,
                                           const Distribution &q, int64_t draft,
                                           Rng &rng) {
  std::unordered_map<int64_t, double> qOf;
  for (const auto &e : q)
    qOf[e.first] += e.second;
  auto qd = qOf.find(draft);
  if (qd == qOf.end() || !(qd->second > 0))
    fail("speculative sampling: the draft token " + std::to_string(draft) +
         " has probability 0 under the draft distribution");
  double pd = 0;
  for (const auto &e : p)
    if (e.first == draft)
      pd += e.second;
  // Keep with probability min(1, p/q): u < p/q, u in [0, 1).
  if (rng.uniform() * qd->second < pd)
    return {draft, true};
  // The residual max(0, p - q): where the target puts more mass than the
  // draft did. It is non-empty whenever the draft was rejected.
  Distribution residual;
  for (const auto &e : p) {
    auto it = qOf.find(e.first);
    double r = e.second - (it == qOf.end() ? 0.0 : it->second);
    if (r > 0)
      residual.emplace_back(e.first, r);
  }
  if (residual.empty()) // p == q up to rounding: keep the target's draw
    return {draw(p, rng.uniform()), false};
  return {draw(residual, rng.uniform()), false};
}

MtpSpeculator::MtpSpeculator(Session &session, Module &module)
    : session_(session), module_(module) {
  // The entries only an MTP import has first, so that a module without
  // them is told so rather than that its prefill lacks hidden states.
  verify_ = inspect("verify", /*mtp=*/false);
  mtpPrefill_ = inspect("mtp_prefill", true);
  mtpDecode_ = inspect("mtp_decode", true);
  prefill_ = inspect("prefill", false);
  if (prefill_.tokens != mtpPrefill_.tokens)
    fail("the module's prefill and mtp_prefill take different token counts; " +
         std::string(kContract));
  // A static prefill leaves a prompt's remainder to decode, which must then
  // return the hidden states too.
  if (prefill_.tokens != -1)
    decode_ = inspect("decode", false);
}

MtpSpeculator::Entry MtpSpeculator::inspect(const char *name, bool mtp) {
  Entry e;
  {
    size_t index = 0;
    dsv3rt_status s = dsv3rt_module_find_entry(module_.get(), name, &index);
    if (s) {
      dsv3rt_status_free(s);
      fail(std::string("the module has no \"") + name + "\" entry; " +
           kContract);
    }
    e.index = index;
  }
  const dsv3rt_arg_info *logits = nullptr, *hiddenArg = nullptr;
  std::vector<dsv3rt_arg_info> args = module_.args(e.index);
  for (const dsv3rt_arg_info &a : args) {
    std::string n = a.name;
    if (a.role == DSV3_ROLE_INPUT) {
      e.inputs.push_back(n);
      if (n == "hidden_states")
        hiddenArg = &a;
      else if (n == "input_ids" && a.rank == 2)
        e.tokens = a.shape[1];
    } else if (a.role == DSV3_ROLE_OUTPUT) {
      if (e.outputs == 0 && n == "logits")
        logits = &a;
      if (!mtp && n == "hidden_states")
        hiddenArg = &a;
      ++e.outputs;
    } else if (a.role == DSV3_ROLE_STATE && a.rank >= 2) {
      L_ = L_ ? std::min(L_, a.shape[1]) : a.shape[1];
    }
  }
  const size_t wantInputs = mtp ? 5 : 4;
  if (!logits || !hiddenArg || e.inputs.size() != wantInputs ||
      logits->dtype != DSV3_DTYPE_F32 || logits->rank != 2 ||
      hiddenArg->rank != 3)
    fail(std::string("the module's \"") + name + "\" entry does not fit; " +
         kContract);
  if (V_ && logits->shape[1] != V_)
    fail("the module's entries disagree on the vocabulary size");
  V_ = logits->shape[1];
  if (H_ && (hiddenArg->shape[2] != H_ || hiddenArg->dtype != hiddenType_))
    fail("the module's entries disagree on the hidden states' type");
  H_ = hiddenArg->shape[2];
  hiddenType_ = hiddenArg->dtype;
  hiddenRowBytes_ = static_cast<size_t>(H_) * dsv3_dtype_size(hiddenType_);
  return e;
}

void MtpSpeculator::setEosIds(std::vector<int64_t> ids) {
  for (int64_t id : ids)
    if (id < 0 || id >= V_)
      fail("eos token id " + std::to_string(id) +
           " is outside the vocabulary [0, " + std::to_string(V_) +
           ") of the module");
  eos_ = std::move(ids);
}

void MtpSpeculator::validate(const std::vector<int64_t> &prompt,
                             const GenerateOptions &o) const {
  // The last token is never fed, so its row is free for the last verify's
  // draft: the rows plain decoding needs suffice.
  validateRequest(prompt, o, V_, L_);
}

std::vector<Tensor> MtpSpeculator::call(const Entry &e, const int64_t *ids,
                                        int64_t count, int64_t start,
                                        const void *hidden) {
  std::vector<int64_t> positions(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    positions[i] = start + i;
  const int64_t kvLen = start + count;
  std::vector<Tensor> values;
  std::vector<dsv3rt_tensor *> inputs;
  for (const std::string &n : e.inputs) {
    if (n == "input_ids")
      values.emplace_back(DSV3_DTYPE_I64, std::vector<int64_t>{1, count}, ids);
    else if (n == "positions")
      values.emplace_back(DSV3_DTYPE_I64, std::vector<int64_t>{1, count},
                          positions.data());
    else if (n == "start_pos")
      values.emplace_back(DSV3_DTYPE_I64, std::vector<int64_t>{1}, &start);
    else if (n == "kv_len")
      values.emplace_back(DSV3_DTYPE_I64, std::vector<int64_t>{1}, &kvLen);
    else if (n == "hidden_states")
      values.emplace_back(hiddenType_, std::vector<int64_t>{1, count, H_},
                          hidden);
    else
      fail("the module's entry takes an input \"" + n + "\"; " + kContract);
    inputs.push_back(values.back().get());
  }
  std::vector<dsv3rt_tensor *> raw(e.outputs, nullptr);
  dsv3rt_status status =
      dsv3rt_module_call(module_.get(), e.index, inputs.data(), inputs.size(),
                         raw.data(), raw.size());
  std::vector<Tensor> outputs;
  for (dsv3rt_tensor *t : raw)
    outputs.emplace_back(t);
  check(status);
  return outputs;
}

void MtpSpeculator::forChunks(
    int64_t n,
    const std::function<void(const Entry &, int64_t, int64_t)> &body) const {
  if (prefill_.tokens == -1) {
    for (int64_t done = 0; done < n; done += Generator::kMaxPrefillChunk)
      body(prefill_, done, std::min(Generator::kMaxPrefillChunk, n - done));
    return;
  }
  int64_t done = 0;
  for (; n - done >= prefill_.tokens; done += prefill_.tokens)
    body(prefill_, done, prefill_.tokens);
  for (; done < n; ++done)
    body(decode_, done, 1);
}

const float *MtpSpeculator::lastRow(const Tensor &logits, int64_t V) {
  const int64_t rows = logits.shape()[0];
  return static_cast<const float *>(logits.data()) + (rows - 1) * V;
}

SpeculativeResult MtpSpeculator::generate(const std::vector<int64_t> &prompt,
                                          const GenerateOptions &o,
                                          const TokenCallback &onToken) {
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  validate(prompt, o);
  Sampler sampler(o.sampling);
  // Drafts and acceptance draw from their own stream, so that the seed
  // still fixes every token.
  Rng rng(o.sampling.seed ^ 0x9e3779b97f4a7c15ull);
  session_.resetState();
  SpeculativeResult r;
  r.promptTokens = static_cast<int64_t>(prompt.size());
  const int64_t n0 = r.promptTokens;

  // The prompt through the main model, keeping every hidden state: chunks
  // through prefill (of P tokens when static, the rest one by one through
  // decode; of up to kMaxPrefillChunk when dynamic).
  const clock::time_point start = clock::now();
  std::vector<uint8_t> hidden(static_cast<size_t>(n0) * hiddenRowBytes_);
  std::vector<float> logits;
  forChunks(n0, [&](const Entry &e, int64_t done, int64_t c) {
    std::vector<Tensor> out = call(e, prompt.data() + done, c, done);
    std::memcpy(hidden.data() + done * hiddenRowBytes_, out[1].data(),
                c * hiddenRowBytes_);
    const float *last = lastRow(out[0], V_);
    logits.assign(last, last + V_);
    ++(&e == &prefill_ ? r.prefillCalls : r.prefillDecodeCalls);
  });
  r.prefillSeconds = seconds(start, clock::now());

  auto isStop = [&](int64_t t) {
    return std::find(eos_.begin(), eos_.end(), t) != eos_.end() ||
           std::find(o.stopIds.begin(), o.stopIds.end(), t) != o.stopIds.end();
  };
  // Emits a token; false when generation ends with it.
  auto emit = [&](int64_t t) {
    r.tokens.push_back(t);
    if (isStop(t)) {
      r.reason = StopReason::StopToken;
      if (onToken)
        onToken(t);
      return false;
    }
    if (onToken && !onToken(t)) {
      r.reason = StopReason::Callback;
      return false;
    }
    return static_cast<int64_t>(r.tokens.size()) < o.maxNewTokens;
  };
  if (o.maxNewTokens == 0)
    return r;
  int64_t last = sampler.sample(logits);
  r.firstTokenSeconds = seconds(start, clock::now());
  r.cachedRows = n0;
  if (!emit(last))
    return r;

  // The draft for the token after `last`: the MTP module over rows whose
  // next tokens are known. Row i pairs h_i with t_{i+1}.
  Distribution draftDist;
  auto draftFrom = [&](const Tensor &mtpLogits) {
    draftDist = sampler.distribution(lastRow(mtpLogits, V_), V_);
    return sampler.greedy() ? draftDist[0].first
                            : draw(draftDist, rng.uniform());
  };
  std::vector<int64_t> nextIds(prompt.begin() + 1, prompt.end());
  nextIds.push_back(last);
  int64_t draft = -1;
  {
    clock::time_point t0 = clock::now();
    Tensor mtpLogits;
    forChunks(n0, [&](const Entry &e, int64_t done, int64_t c) {
      const Entry &mtpEntry = &e == &prefill_ ? mtpPrefill_ : mtpDecode_;
      mtpLogits = std::move(call(mtpEntry, nextIds.data() + done, c, done,
                                 hidden.data() + done * hiddenRowBytes_)[0]);
    });
    draft = draftFrom(mtpLogits);
    r.mtpPromptSeconds = seconds(t0, clock::now());
    r.mtpCachedRows = n0;
  }

  const clock::time_point decodeStart = clock::now();
  int64_t n = n0; // both caches hold rows [0, n) at the top of the loop
  while (true) {
    // [last, draft] at n, n+1: row 0 gives the token after `last` (which
    // decides the draft), row 1 the one after the draft.
    clock::time_point t0 = clock::now();
    const int64_t pair[2] = {last, draft};
    std::vector<Tensor> out = call(verify_, pair, 2, n);
    r.verifySeconds += seconds(t0, clock::now());
    ++r.verifyCalls;
    ++r.drafted;
    const float *row0 = static_cast<const float *>(out[0].data());
    const float *row1 = row0 + V_;
    const auto *h = static_cast<const uint8_t *>(out[1].data());
    int64_t next;
    bool kept;
    if (sampler.greedy()) {
      next = argmax(row0, V_);
      kept = next == draft;
    } else {
      std::tie(next, kept) = speculativeAccept(sampler.distribution(row0, V_),
                                               draftDist, draft, rng);
    }
    // Row n (last) holds an accepted token now; row n+1 (the draft) only
    // if the draft is kept.
    r.cachedRows = n + (kept ? 2 : 1);
    t0 = clock::now();
    Tensor mtpLogits;
    if (kept) {
      ++r.accepted;
      if (!emit(draft))
        break;
      const int64_t after = sampler.sample(row1, V_);
      if (!emit(after))
        break;
      // MTP rows n (h_n, draft) and n+1 (h_{n+1}, after), one decode-sized
      // call each (causal, so the same as one two-row call).
      call(mtpDecode_, &draft, 1, n, h);
      mtpLogits =
          std::move(call(mtpDecode_, &after, 1, n + 1, h + hiddenRowBytes_)[0]);
      n += 2;
      r.mtpCachedRows = n;
      last = after;
    } else {
      // The cache row n+1 the draft took is overwritten by the next call.
      if (!emit(next))
        break;
      mtpLogits = std::move(call(mtpDecode_, &next, 1, n, h)[0]);
      n += 1;
      r.mtpCachedRows = n;
      last = next;
    }
    draft = draftFrom(mtpLogits);
    r.mtpSeconds += seconds(t0, clock::now());
  }
  r.decodeTotalSeconds = seconds(decodeStart, clock::now());
  return r;
}

} // namespace dsv3rt
