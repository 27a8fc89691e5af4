#include "Generate.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <sys/stat.h>

namespace dsv3rt {

namespace {

[[noreturn]] void fail(const std::string &message) { throw Error(message); }

std::string str(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

// Throws unless logits is a non-empty vector without NaN.
void checkLogits(const float *logits, size_t n) {
  if (n == 0)
    fail("cannot sample from an empty logits vector");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    fail("cannot sample from " + std::to_string(n) +
         " logits (at most 2^31 - 1)");
  for (size_t i = 0; i < n; ++i)
    if (std::isnan(logits[i]))
      fail("logits contain NaN (token id " + std::to_string(i) +
           "): the model produced an invalid result");
}

} // namespace

// ---- sampling ----

void validateSampling(const SamplingOptions &o) {
  if (!(o.temperature >= 0) || std::isinf(o.temperature))
    fail("temperature " + str(o.temperature) +
         " is not a finite number >= 0 (0 is greedy)");
  if (o.topK < 0)
    fail("top-k " + std::to_string(o.topK) +
         " is negative (0 keeps every "
         "token)");
  if (!(o.topP > 0 && o.topP <= 1))
    fail("top-p " + str(o.topP) + " is outside (0, 1] (1 keeps every token)");
}

int64_t argmax(const float *logits, size_t n) {
  checkLogits(logits, n);
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) // strict: ties keep the lowest id
      best = i;
  return static_cast<int64_t>(best);
}

Sampler::Sampler(const SamplingOptions &options)
    : options_(options), rng_(options.seed) {
  validateSampling(options_);
}

namespace {

// The candidates of one draw: ids in walk order, their unnormalised weights
// and the kept count. See Sampler::distribution for the definition.
size_t prepare(const SamplingOptions &o, const float *logits, size_t n,
               std::vector<int32_t> &order, std::vector<double> &weight) {
  order.resize(n);
  std::iota(order.begin(), order.end(), 0);
  // Decreasing logit, ties to the lower id: a strict total order, so any
  // (partial) sort gives the same sequence on every platform.
  auto before = [logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  size_t count = n;
  bool sorted = false;
  if (o.topK > 0 && static_cast<uint64_t>(o.topK) < n) {
    count = static_cast<size_t>(o.topK);
    std::partial_sort(order.begin(), order.begin() + count, order.end(),
                      before);
    sorted = true;
  }
  float top = logits[order[0]];
  if (!sorted)
    top = *std::max_element(logits, logits + n);
  const double maxLogit = top, t = o.temperature;
  // exp((l - max) / T) <= 1; a +inf maximum shares all mass among the +inf
  // logits. Sums are sequential, in walk order.
  auto weightOf = [&](float l) {
    if (std::isinf(maxLogit))
      return l == top ? 1.0 : 0.0;
    return std::exp((static_cast<double>(l) - maxLogit) / t);
  };
  weight.resize(count);
  double total = 0;
  for (size_t i = 0; i < count; ++i)
    total += weight[i] = weightOf(logits[order[i]]);
  if (o.topP >= 1)
    return count;

  // Nucleus: sort lazily (the nucleus is usually a few tokens of a large
  // vocabulary) and keep candidate i iff the mass before it is < topP.
  const double threshold = o.topP * total;
  size_t sortedCount = sorted ? count : 0;
  size_t kept = 0;
  double massBefore = 0;
  while (true) {
    if (sortedCount < count) {
      size_t want = std::min(count, std::max<size_t>(64, 2 * sortedCount));
      std::partial_sort(order.begin(), order.begin() + want,
                        order.begin() + count, before);
      sortedCount = want;
      massBefore = 0;
      kept = 0;
      for (size_t i = 0; i < sortedCount; ++i)
        weight[i] = weightOf(logits[order[i]]);
    }
    while (kept < sortedCount && massBefore < threshold)
      massBefore += weight[kept++];
    if (kept < sortedCount || sortedCount == count)
      break;
  }
  weight.resize(kept);
  return kept;
}

} // namespace

std::vector<std::pair<int64_t, double>>
Sampler::distribution(const float *logits, size_t n) {
  if (greedy())
    return {{argmax(logits, n), 1.0}};
  checkLogits(logits, n);
  size_t kept = prepare(options_, logits, n, order_, weight_);
  double total = 0;
  for (size_t i = 0; i < kept; ++i)
    total += weight_[i];
  std::vector<std::pair<int64_t, double>> result;
  for (size_t i = 0; i < kept; ++i)
    result.emplace_back(order_[i], weight_[i] / total);
  return result;
}

int64_t Sampler::sample(const float *logits, size_t n) {
  if (greedy())
    return argmax(logits, n);
  checkLogits(logits, n);
  size_t kept = prepare(options_, logits, n, order_, weight_);
  double total = 0;
  for (size_t i = 0; i < kept; ++i)
    total += weight_[i];
  const double target = rng_.uniform() * total;
  double cumulative = 0;
  size_t lastPositive = 0;
  for (size_t i = 0; i < kept; ++i) {
    if (weight_[i] > 0)
      lastPositive = i;
    cumulative += weight_[i];
    if (cumulative > target)
      return order_[i];
  }
  // u * total rounded up to total: the last candidate with any mass.
  return order_[lastPositive];
}

// ---- generation ----

std::vector<int64_t> readEosTokenIds(const std::string &modelDir) {
  const std::string path = modelDir + "/config.json";
  // Opening a FIFO for reading would block until a writer appears.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    fail(path + ": not a regular file");
  std::ifstream in(path);
  if (!in)
    return {};
  nlohmann::json config;
  try {
    in >> config;
  } catch (const std::exception &e) {
    fail(path + ": not valid JSON: " + e.what());
  }
  if (!config.is_object())
    fail(path + ": expected a JSON object");
  auto it = config.find("eos_token_id");
  if (it == config.end() || it->is_null())
    return {};
  auto bad = [&]() {
    fail(path +
         ": eos_token_id must be a non-negative integer or a list of "
         "them, got " +
         it->dump());
  };
  std::vector<int64_t> ids;
  auto add = [&](const nlohmann::json &v) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
      bad();
    ids.push_back(v.get<int64_t>());
  };
  if (it->is_array()) {
    for (const nlohmann::json &v : *it)
      add(v);
  } else {
    add(*it);
  }
  return ids;
}

const char *stopReasonName(StopReason reason) {
  switch (reason) {
  case StopReason::MaxNewTokens:
    return "max-new-tokens";
  case StopReason::StopToken:
    return "stop-token";
  case StopReason::Callback:
    return "callback";
  }
  return "?";
}

namespace {

const char *kInputs[4] = {"input_ids", "positions", "start_pos", "kv_len"};

std::string shapeText(const dsv3rt_arg_info &a) {
  std::string s = std::string(dsv3rt_dtype_name(a.dtype)) + "[";
  for (size_t d = 0; d < a.rank; ++d)
    s += (d ? "," : "") + std::to_string(a.shape[d]);
  return s + "]";
}

bool isShape(const dsv3rt_arg_info &a, std::initializer_list<int64_t> dims) {
  return a.rank == dims.size() && std::equal(dims.begin(), dims.end(), a.shape);
}

const char *kContract =
    "generation needs a whole-model module from dsv3-import with entries "
    "prefill(input_ids i64[1,P], positions i64[1,P], start_pos i64[1], "
    "kv_len i64[1]) -> logits f32[1,V] and decode(input_ids i64[1,1], "
    "positions i64[1,1], start_pos i64[1], kv_len i64[1]) -> logits f32[1,V]";

} // namespace

Generator::Generator(Session &session, Module &module)
    : session_(session), module_(module) {
  std::string entries;
  for (size_t i = 0; i < module.entryCount(); ++i)
    entries += (i ? ", " : "") + module.entryName(i);
  int64_t cacheRows = -1;
  std::string cacheState;
  auto inspect = [&](const char *name, Entry &entry, int64_t tokens) {
    size_t index = 0;
    if (dsv3rt_status s =
            dsv3rt_module_find_entry(module.get(), name, &index)) {
      dsv3rt_status_free(s);
      fail(std::string("the module has no \"") + name + "\" entry (entries: " +
           (entries.empty() ? "none" : entries) + "); " + kContract);
    }
    entry.index = index;
    std::vector<dsv3rt_arg_info> args = module.args(index);
    std::string got;
    std::vector<const dsv3rt_arg_info *> ins, outs;
    for (const dsv3rt_arg_info &a : args) {
      if (a.role == DSV3_ROLE_INPUT)
        ins.push_back(&a);
      else if (a.role == DSV3_ROLE_OUTPUT)
        outs.push_back(&a);
    }
    for (const dsv3rt_arg_info *a : ins)
      got +=
          std::string(got.empty() ? "" : ", ") + a->name + " " + shapeText(*a);
    got = std::string(name) + "(" + got + ") -> ";
    for (size_t i = 0; i < outs.size(); ++i)
      got += std::string(i ? ", " : "") + outs[i]->name + " " +
             shapeText(*outs[i]);
    auto wrong = [&]() {
      fail(std::string("the module's \"") + name + "\" entry is " + got + "; " +
           kContract);
    };
    // logits first; an imported model with an MTP module also returns the
    // hidden states from prefill (speculative decoding reads them).
    if (ins.size() != 4 || outs.empty() ||
        std::string(outs[0]->name) != "logits")
      wrong();
    entry.outputs = outs.size();
    const dsv3rt_arg_info *found[4] = {};
    for (size_t i = 0; i < ins.size(); ++i)
      for (int k = 0; k < 4; ++k)
        if (std::string(ins[i]->name) == kInputs[k] && !found[k]) {
          found[k] = ins[i];
          entry.slot[k] = i;
        }
    for (const dsv3rt_arg_info *a : found)
      if (!a || a->dtype != DSV3_DTYPE_I64)
        wrong();
    if (tokens < 0) { // prefill: P from input_ids, -1 when dynamic
      if (found[0]->rank != 2 || found[0]->shape[0] != 1 ||
          (found[0]->shape[1] < 1 && found[0]->shape[1] != -1))
        wrong();
      tokens = found[0]->shape[1];
      dynamicPrefill_ = tokens == -1;
    }
    if (!isShape(*found[0], {1, tokens}) || !isShape(*found[1], {1, tokens}) ||
        !isShape(*found[2], {1}) || !isShape(*found[3], {1}))
      wrong();
    const dsv3rt_arg_info &logits = *outs[0];
    if (logits.dtype != DSV3_DTYPE_F32 || logits.rank != 2 ||
        logits.shape[1] < 1 ||
        (logits.shape[0] != 1 && logits.shape[0] != tokens))
      wrong();
    // -1: one row per token of a dynamic call.
    entry.logitRows = logits.shape[0];
    if (V_ && logits.shape[1] != V_)
      fail("the module's prefill returns " + std::to_string(V_) +
           " logits per token but decode " + std::to_string(logits.shape[1]));
    V_ = logits.shape[1];
    bool anyState = false;
    for (const dsv3rt_arg_info &a : args) {
      if (a.role != DSV3_ROLE_STATE)
        continue;
      anyState = true;
      if (a.rank < 2 || a.shape[0] != 1)
        fail(std::string("the module's \"") + name + "\" entry has state " +
             a.name + " " + shapeText(a) +
             ", not a KV cache of shape [1, max_seq_len, ...]");
      if (cacheRows >= 0 && a.shape[1] != cacheRows)
        fail("the module's KV caches disagree on max_seq_len: " + cacheState +
             " has " + std::to_string(cacheRows) + " rows, " + a.name +
             " has " + std::to_string(a.shape[1]));
      cacheRows = a.shape[1];
      cacheState = a.name;
    }
    if (!anyState)
      fail(std::string("the module's \"") + name +
           "\" entry declares no KV cache state; " + kContract);
    return tokens;
  };
  P_ = inspect("prefill", prefill_, -1);
  inspect("decode", decode_, 1);
  // decode_greedy: decode's inputs, the next token i64[1] as its output.
  size_t greedyIndex = 0;
  if (dsv3rt_status s = dsv3rt_module_find_entry(module.get(), "decode_greedy",
                                                 &greedyIndex)) {
    dsv3rt_status_free(s);
  } else {
    greedy_.index = greedyIndex;
    std::vector<const char *> ins;
    std::vector<dsv3rt_arg_info> args = module.args(greedyIndex);
    const dsv3rt_arg_info *out = nullptr;
    size_t outputs = 0;
    bool ok = true;
    for (const dsv3rt_arg_info &a : args) {
      if (a.role == DSV3_ROLE_OUTPUT) {
        out = &a;
        ++outputs;
      } else if (a.role == DSV3_ROLE_INPUT) {
        bool known = false;
        for (int k = 0; k < 4; ++k)
          if (std::string(a.name) == kInputs[k]) {
            greedy_.slot[k] = ins.size();
            known = true;
          }
        ok = ok && known && a.dtype == DSV3_DTYPE_I64;
        ins.push_back(a.name);
      }
    }
    if (!ok || ins.size() != 4 || outputs != 1 ||
        out->dtype != DSV3_DTYPE_I64 || !isShape(*out, {1}))
      fail("the module's \"decode_greedy\" entry is not decode's inputs -> "
           "next_token i64[1]");
    hasGreedy_ = true;
  }
  L_ = cacheRows;
  if (!dynamicPrefill_ && P_ > L_)
    fail("the module's prefill takes " + std::to_string(P_) +
         " tokens but its caches hold only " + std::to_string(L_) + " rows");
}

void Generator::setEosIds(std::vector<int64_t> ids) {
  for (int64_t id : ids)
    if (id < 0 || id >= V_)
      fail("eos token id " + std::to_string(id) +
           " is outside the vocabulary [0, " + std::to_string(V_) +
           ") of the module");
  eos_ = std::move(ids);
}

Tensor Generator::run(const Entry &e, const int64_t *ids, int64_t count) {
  std::vector<int64_t> positions(static_cast<size_t>(count));
  std::iota(positions.begin(), positions.end(), position_);
  const int64_t startPos = position_, kvLen = position_ + count;
  Tensor values[4] = {Tensor(DSV3_DTYPE_I64, {1, count}, ids),
                      Tensor(DSV3_DTYPE_I64, {1, count}, positions.data()),
                      Tensor(DSV3_DTYPE_I64, {1}, &startPos),
                      Tensor(DSV3_DTYPE_I64, {1}, &kvLen)};
  dsv3rt_tensor *inputs[4];
  for (int k = 0; k < 4; ++k)
    inputs[e.slot[k]] = values[k].get();
  // Outputs known from the metadata: calling the C API directly saves
  // Module::call's walk over every (parameter) argument per token. The first
  // is the logits (or the next token); the rest are dropped.
  std::vector<dsv3rt_tensor *> raw(e.outputs, nullptr);
  dsv3rt_status status = dsv3rt_module_call(module_.get(), e.index, inputs, 4,
                                            raw.data(), raw.size());
  std::vector<Tensor> outputs;
  for (dsv3rt_tensor *t : raw)
    outputs.emplace_back(t); // owns them, also when the call failed
  check(status);
  position_ += count;
  return std::move(outputs[0]);
}

std::vector<float> Generator::call(bool usePrefill, const int64_t *ids,
                                   int64_t count) {
  const Entry &e = usePrefill ? prefill_ : decode_;
  Tensor logits = run(e, ids, count);
  const int64_t rows = e.logitRows == -1 ? count : e.logitRows;
  const float *data = static_cast<const float *>(logits.data()) +
                      (rows - 1) * V_; // the last token's row
  return std::vector<float>(data, data + V_);
}

std::vector<float> Generator::prefill(const std::vector<int64_t> &ids) {
  if (ids.empty())
    fail("the prompt is empty");
  const int64_t n = static_cast<int64_t>(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= V_)
      fail("token id " + std::to_string(ids[i]) + " (position " +
           std::to_string(i) + ") is outside the vocabulary [0, " +
           std::to_string(V_) + ") of the module");
  if (position_ + n > L_)
    fail(std::to_string(n) + " tokens at position " +
         std::to_string(position_) + " exceed max_seq_len " +
         std::to_string(L_) + " of the module");
  std::vector<float> logits;
  int64_t done = 0;
  if (dynamicPrefill_) {
    for (; done < n; done += std::min(n - done, chunk()))
      logits = call(true, ids.data() + done, std::min(n - done, chunk()));
    return logits;
  }
  for (; n - done >= P_; done += P_)
    logits = call(true, ids.data() + done, P_);
  for (; done < n; ++done)
    logits = call(false, ids.data() + done, 1);
  return logits;
}

void Generator::checkStep(int64_t token) const {
  if (token < 0 || token >= V_)
    fail("token id " + std::to_string(token) +
         " is outside the vocabulary [0, " + std::to_string(V_) +
         ") of the module");
  if (position_ >= L_)
    fail("the cache is full: max_seq_len " + std::to_string(L_) +
         " of the module reached");
}

std::vector<float> Generator::step(int64_t token) {
  checkStep(token);
  return call(false, &token, 1);
}

int64_t Generator::stepGreedy(int64_t token) {
  if (!hasGreedy_)
    fail("the module has no \"decode_greedy\" entry");
  checkStep(token);
  Tensor next = run(greedy_, &token, 1);
  int64_t id = *static_cast<const int64_t *>(next.data());
  // The graph's argmax gives -1 when a logit is NaN (the host sampler's
  // check on the logits, done on the device).
  if (id < 0 || id >= V_)
    fail("decode_greedy returned token " + std::to_string(id) +
         (id == -1 ? " (the logits hold NaN)" : " (outside the vocabulary)"));
  return id;
}

void Generator::reset() {
  session_.resetState();
  position_ = 0;
}

void validateRequest(const std::vector<int64_t> &prompt,
                     const GenerateOptions &o, int64_t V, int64_t L) {
  if (prompt.empty())
    fail("the prompt is empty");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= V)
      fail("prompt token id " + std::to_string(prompt[i]) + " (position " +
           std::to_string(i) + ") is outside the vocabulary [0, " +
           std::to_string(V) + ") of the module");
  if (o.maxNewTokens < 0)
    fail("max_new_tokens " + std::to_string(o.maxNewTokens) + " is negative");
  const int64_t n = static_cast<int64_t>(prompt.size());
  if (o.maxNewTokens > L || n + o.maxNewTokens > L)
    fail("prompt of " + std::to_string(n) + " tokens + " +
         std::to_string(o.maxNewTokens) + " new tokens exceeds max_seq_len " +
         std::to_string(L) + " of the module");
  for (int64_t id : o.stopIds)
    if (id < 0 || id >= V)
      fail("stop id " + std::to_string(id) + " is outside the vocabulary [0, " +
           std::to_string(V) + ") of the module");
  validateSampling(o.sampling);
}

void Generator::validate(const std::vector<int64_t> &prompt,
                         const GenerateOptions &o) const {
  validateRequest(prompt, o, V_, L_);
}

GenerateResult Generator::generate(const std::vector<int64_t> &prompt,
                                   const GenerateOptions &o,
                                   const TokenCallback &onToken) {
  using clock = std::chrono::steady_clock;
  auto seconds = [](clock::time_point a, clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  validate(prompt, o);
  Sampler sampler(o.sampling);
  if (position_ != 0)
    reset();
  GenerateResult r;
  r.promptTokens = static_cast<int64_t>(prompt.size());
  r.prefillCalls = dynamicPrefill_ ? (r.promptTokens + chunk() - 1) / chunk()
                                   : r.promptTokens / P_;
  r.prefillDecodeCalls = dynamicPrefill_ ? 0 : r.promptTokens % P_;
  const clock::time_point start = clock::now();
  std::vector<float> logits = prefill(prompt);
  r.prefillSeconds = seconds(start, clock::now());
  auto isStop = [&](int64_t t) {
    return std::find(eos_.begin(), eos_.end(), t) != eos_.end() ||
           std::find(o.stopIds.begin(), o.stopIds.end(), t) != o.stopIds.end();
  };
  for (int64_t i = 0; i < o.maxNewTokens; ++i) {
    clock::time_point t0 = clock::now();
    // Greedy steps take the argmax in the graph when the module has
    // decode_greedy, so the logits are not copied off a device.
    const bool inGraph = i > 0 && hasGreedy_ && sampler.greedy();
    if (i > 0 && !inGraph)
      logits = step(r.tokens.back());
    const int64_t token =
        inGraph ? stepGreedy(r.tokens.back()) : sampler.sample(logits);
    if (i == 0)
      r.firstTokenSeconds = seconds(start, clock::now());
    else
      r.decodeSeconds.push_back(seconds(t0, clock::now()));
    r.tokens.push_back(token);
    const bool stop = isStop(token);
    if (stop) {
      r.reason = StopReason::StopToken;
      if (onToken)
        onToken(token);
      break;
    }
    if (onToken && !onToken(token)) {
      r.reason = StopReason::Callback;
      break;
    }
  }
  return r;
}

} // namespace dsv3rt
