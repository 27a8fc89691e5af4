// dsv3-generate: generate tokens with a whole-model module (dsv3-import +
// dsv3-compile): load it, bind the checkpoint, prefill the prompt ids, sample
// new ids (greedy, temperature, top-k, top-p) until max-new-tokens or an eos
// / stop id, streaming them to stdout; a summary (timings, memory) goes to
// stderr. Token ids in, token ids out: tokenization is python -m dsv3's.
#include "BindProgress.h"
#include "Generate.h"
#include "Safetensors.h"
#include "Speculative.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

namespace {

const char *kUsage =
    R"(usage: dsv3-generate MODULE.so --parameters=MODEL_DIR
           (--prompt-ids=1,2,3 | --prompt-file=ids.txt) --max-new-tokens=N
           [flags]

MODULE.so is a whole-model module from dsv3-import + dsv3-compile (entries
prefill and decode). The new token ids are written to stdout, space
separated, as they are generated; a summary goes to stderr.

  --parameters=PATH      checkpoint: a directory (its
                         model.safetensors.index.json, else its
                         *.safetensors), a shard index or a .safetensors
                         file; repeatable. The eos_token_id is read from
                         config.json in the (first) path's directory
  --prompt-ids=IDS       prompt token ids, separated by commas or spaces
  --prompt-file=FILE     prompt token ids from a file (commas or whitespace)
  --max-new-tokens=N     generate at most N tokens; prompt + N must fit in
                         the module's max_seq_len
  --temperature=T        0 (default): greedy, argmax with ties to the lowest
                         id; > 0: sample softmax(logits / T)
  --top-k=K              sample among the K largest logits (0: all; default)
  --top-p=P              nucleus: the smallest set of most likely tokens
                         whose probability reaches P, in (0, 1] (default 1)
  --seed=S               PRNG seed (default 0); the same seed, options and
                         module give the same ids on every platform
  --stop-ids=IDS         also stop after any of these ids
  --ignore-eos           do not stop on config.json's eos_token_id
  --speculative=mtp      speculative decoding with the module's MTP entries
                         (dsv3-import --mtp): each step verifies the MTP
                         draft together with the new token in one
                         two-token call. The same tokens as plain decoding
                         (greedy) or the same distribution (sampling). Plain
                         decoding runs first in the same process, for the
                         speed-up and acceptance figures on stderr
  --state-output=FILE.safetensors
                         after generating, write the session's states (every
                         layer's KV cache, the MTP layer's too) to FILE, with
                         the number of valid rows as metadata "cached_rows"
                         (and "mtp_cached_rows" for the MTP layer's cache)
  --device=host|cuda     session device (default host)
  --threads=N            threads of the host calls' parallel loops (default:
                         OMP_NUM_THREADS if set, else one per core); the
                         tokens do not depend on it
  --progress             report the bind's progress (files mapped,
                         parameters bound, GB) on stderr from the start, and
                         its totals at the end; without it only a bind that
                         takes over 2 s is reported. DSV3_PROGRESS=1 in the
                         environment does the same, DSV3_PROGRESS=0 silences
                         it
  --quiet                no summary or progress on stderr
  --help                 this text

exit status: 0 success, 2 usage, input or runtime error
)";

struct Options {
  std::string module;
  std::vector<std::string> parameters;
  std::string promptIds, promptFile;
  bool havePromptIds = false, havePromptFile = false;
  int64_t maxNewTokens = -1;
  dsv3rt::SamplingOptions sampling;
  std::vector<int64_t> stopIds;
  std::string device = "host";
  int64_t threads = 0; // 0: libomp's default
  bool speculative = false;
  std::string stateOutput;
  bool ignoreEos = false, quiet = false, progress = false, help = false;
};

[[noreturn]] void usageError(const std::string &message) {
  throw std::runtime_error(message + " (see --help)");
}

int64_t parseInt(const std::string &what, const std::string &text) {
  errno = 0;
  char *end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno == ERANGE)
    usageError(what + ": \"" + text + "\" is not an integer");
  return v;
}

double parseDouble(const std::string &what, const std::string &text) {
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || errno == ERANGE)
    usageError(what + ": \"" + text + "\" is not a number");
  return v;
}

// Ids separated by commas and/or whitespace.
std::vector<int64_t> parseIds(const std::string &what,
                              const std::string &text) {
  std::string spaced = text;
  std::replace(spaced.begin(), spaced.end(), ',', ' ');
  std::istringstream in(spaced);
  std::vector<int64_t> ids;
  std::string word;
  while (in >> word)
    ids.push_back(parseInt(what, word));
  return ids;
}

Options parseFlags(int argc, char **argv) {
  Options o;
  std::vector<std::string> seen;
  auto once = [&](const std::string &name) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      usageError("--" + name + " given more than once");
    seen.push_back(name);
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      if (arg.size() > 1 && arg[0] == '-')
        usageError("unknown flag " + arg);
      if (!o.module.empty())
        usageError("more than one module given: " + o.module + " and " + arg);
      o.module = arg;
      continue;
    }
    size_t eq = arg.find('=');
    std::string name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
    const bool hasValue = eq != std::string::npos;
    std::string value = hasValue ? arg.substr(eq + 1) : "";
    if (name == "help" || name == "quiet" || name == "ignore-eos" ||
        name == "progress") {
      if (hasValue)
        usageError("--" + name + " takes no value");
      (name == "help"       ? o.help
       : name == "quiet"    ? o.quiet
       : name == "progress" ? o.progress
                            : o.ignoreEos) = true;
      continue;
    }
    static const char *valued[] = {
        "parameters",  "prompt-ids", "prompt-file", "max-new-tokens",
        "temperature", "top-k",      "top-p",       "seed",
        "stop-ids",    "device",     "speculative", "state-output",
        "threads"};
    if (std::find(std::begin(valued), std::end(valued), name) ==
        std::end(valued))
      usageError("unknown flag " + arg);
    if (!hasValue)
      usageError("--" + name + " needs a value: --" + name + "=...");
    const std::string what = "--" + name;
    if (name == "parameters") {
      o.parameters.push_back(value);
      continue;
    }
    once(name);
    if (name == "prompt-ids") {
      o.promptIds = value;
      o.havePromptIds = true;
    } else if (name == "prompt-file") {
      o.promptFile = value;
      o.havePromptFile = true;
    } else if (name == "max-new-tokens") {
      o.maxNewTokens = parseInt(what, value);
      if (o.maxNewTokens < 0)
        usageError("--max-new-tokens=" + value + ": expected a count >= 0");
    } else if (name == "temperature") {
      o.sampling.temperature = parseDouble(what, value);
    } else if (name == "top-k") {
      o.sampling.topK = parseInt(what, value);
    } else if (name == "top-p") {
      o.sampling.topP = parseDouble(what, value);
    } else if (name == "seed") {
      int64_t seed = parseInt(what, value);
      if (seed < 0)
        usageError("--seed=" + value + ": expected an integer >= 0");
      o.sampling.seed = static_cast<uint64_t>(seed);
    } else if (name == "stop-ids") {
      o.stopIds = parseIds(what, value);
    } else if (name == "state-output") {
      if (value.size() < 12 ||
          value.compare(value.size() - 12, 12, ".safetensors") != 0)
        usageError("--state-output=" + value +
                   ": expected a .safetensors file");
      o.stateOutput = value;
    } else if (name == "speculative") {
      if (value != "mtp")
        usageError("--speculative=" + value +
                   ": expected mtp (the module's multi-token prediction)");
      o.speculative = true;
    } else if (name == "threads") {
      o.threads = parseInt(what, value);
      if (o.threads < 1 || o.threads > 1024)
        usageError("--threads=" + value + ": expected a count from 1 to 1024");
    } else if (name == "device") {
      if (value != "host" && value != "cuda")
        usageError("--device=" + value + ": expected host or cuda");
      o.device = value;
    }
  }
  if (o.help)
    return o;
  if (o.module.empty())
    usageError("no module given");
  if (o.havePromptIds == o.havePromptFile)
    usageError("give the prompt with exactly one of --prompt-ids and "
               "--prompt-file");
  if (o.maxNewTokens < 0)
    usageError("no --max-new-tokens given");
  if (o.quiet && o.progress)
    usageError("--quiet and --progress contradict each other");
  return o;
}

std::vector<int64_t> readPrompt(const Options &o) {
  if (o.havePromptIds)
    return parseIds("--prompt-ids", o.promptIds);
  // Checked before opening: opening a FIFO blocks until a writer appears.
  std::error_code ec;
  std::filesystem::file_status st = std::filesystem::status(o.promptFile, ec);
  if (!ec && std::filesystem::exists(st) &&
      !std::filesystem::is_regular_file(st))
    throw std::runtime_error("--prompt-file=" + o.promptFile +
                             ": not a regular file; give a file on disk");
  std::ifstream in(o.promptFile);
  if (!in)
    throw std::runtime_error("--prompt-file=" + o.promptFile +
                             ": cannot read the file");
  std::stringstream text;
  text << in.rdbuf();
  return parseIds("--prompt-file=" + o.promptFile, text.str());
}

std::string joinIds(const std::vector<int64_t> &ids) {
  std::string s;
  for (int64_t id : ids)
    s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

// --state-output: every state of the session, and how many cache rows hold
// the generated sequence (the rest is stale).
void writeStates(const Options &o, dsv3rt::Session &session, int64_t cachedRows,
                 int64_t mtpCachedRows = -1) {
  if (o.stateOutput.empty())
    return;
  std::vector<dsv3rt::Tensor> values;
  std::vector<dsv3rt::impl::SafetensorsWriteItem> items;
  for (const dsv3rt::StateInfo &s : session.states()) {
    values.push_back(session.readState(s.name));
    items.push_back({s.name, static_cast<dsv3rt::impl::DType>(s.dtype), s.shape,
                     values.back().data(), values.back().byteSize()});
  }
  std::map<std::string, std::string> metadata = {
      {"cached_rows", std::to_string(cachedRows)}};
  if (mtpCachedRows >= 0)
    metadata["mtp_cached_rows"] = std::to_string(mtpCachedRows);
  dsv3rt::impl::writeSafetensors(o.stateOutput, items, metadata);
}

// Sum and median of per-token seconds.
std::pair<double, double> sumAndMedian(std::vector<double> d) {
  double total = 0;
  for (double s : d)
    total += s;
  if (d.empty())
    return {0, 0};
  std::sort(d.begin(), d.end());
  const size_t n = d.size();
  return {total, n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2};
}

// --speculative=mtp: plain decoding first (the baseline, not printed), then
// speculative decoding streaming its tokens, then both speeds, the speed-up
// and the acceptance rate.
int runSpeculative(const Options &o, dsv3rt::Session &session,
                   dsv3rt::Generator &gen, dsv3rt::MtpSpeculator &spec,
                   const std::vector<int64_t> &prompt,
                   const dsv3rt::GenerateOptions &options) {
  dsv3rt::GenerateResult plain = gen.generate(prompt, options);
  const bool greedy = dsv3rt::Sampler(options.sampling).greedy();
  bool first = true;
  dsv3rt::SpeculativeResult r;
  try {
    r = spec.generate(prompt, options, [&](int64_t token) {
      std::printf(first ? "%lld" : " %lld", static_cast<long long>(token));
      std::fflush(stdout);
      first = false;
      return true;
    });
  } catch (...) {
    if (!first)
      std::printf("\n");
    throw;
  }
  std::printf("\n");
  std::fflush(stdout);
  writeStates(o, session, r.cachedRows, r.mtpCachedRows);
  if (o.quiet)
    return 0;
  auto [plainTotal, plainMedian] = sumAndMedian(plain.decodeSeconds);
  const size_t plainTokens = plain.decodeSeconds.size();
  const size_t specTokens = r.tokens.empty() ? 0 : r.tokens.size() - 1;
  const double plainRate = plainTokens ? plainTokens / plainTotal : 0;
  const double specRate = specTokens && r.decodeTotalSeconds > 0
                              ? specTokens / r.decodeTotalSeconds
                              : 0;
  std::fprintf(stderr,
               "dsv3-generate: speculative (MTP): %zu new token(s), %lld "
               "verify call(s); drafts accepted at position 1: %lld/%lld "
               "(%.1f%%)\n",
               r.tokens.size(), static_cast<long long>(r.verifyCalls),
               static_cast<long long>(r.accepted),
               static_cast<long long>(r.drafted),
               r.drafted ? 100.0 * r.accepted / r.drafted : 0.0);
  std::fprintf(stderr,
               "dsv3-generate: decode after the first token: plain %zu "
               "token(s) in %.2f ms (%.1f tok/s), speculative %zu in %.2f ms "
               "(%.1f tok/s): speed-up %.2fx\n",
               plainTokens, plainTotal * 1e3, plainRate, specTokens,
               r.decodeTotalSeconds * 1e3, specRate,
               plainRate > 0 ? specRate / plainRate : 0.0);
  std::fprintf(stderr,
               "dsv3-generate: per call: plain decode %.3f ms (median), "
               "verify %.3f ms, MTP %.3f ms (means); MTP over the prompt "
               "%.2f ms\n",
               plainMedian * 1e3,
               r.verifyCalls ? r.verifySeconds * 1e3 / r.verifyCalls : 0.0,
               r.verifyCalls ? r.mtpSeconds * 1e3 / r.verifyCalls : 0.0,
               r.mtpPromptSeconds * 1e3);
  if (greedy)
    std::fprintf(stderr,
                 "dsv3-generate: greedy: speculative tokens %s plain "
                 "decoding's\n",
                 r.tokens == plain.tokens ? "equal" : "DIFFER FROM");
  return 0;
}

int run(const Options &o) {
  std::vector<int64_t> prompt = readPrompt(o);
  dsv3rt::Session session(o.device);
  if (o.threads)
    session.setThreads(static_cast<int>(o.threads));
  dsv3rt::Module module(session, o.module);
  std::unique_ptr<dsv3rt::Generator> gen;
  try {
    gen = std::make_unique<dsv3rt::Generator>(session, module);
  } catch (const std::exception &e) {
    throw std::runtime_error(o.module + ": " + e.what());
  }
  std::unique_ptr<dsv3rt::MtpSpeculator> spec;
  if (o.speculative) {
    try {
      spec = std::make_unique<dsv3rt::MtpSpeculator>(session, module);
    } catch (const std::exception &e) {
      throw std::runtime_error(o.module + ": --speculative=mtp: " + e.what());
    }
  }
  size_t parameterCount = 0;
  for (size_t e = 0; e < module.entryCount(); ++e)
    for (const dsv3rt_arg_info &a : module.args(e))
      parameterCount += a.role == DSV3_ROLE_PARAMETER;
  if (o.parameters.empty() && parameterCount)
    throw std::runtime_error(o.module + " has " +
                             std::to_string(parameterCount) +
                             " parameters: give the checkpoint with "
                             "--parameters=MODEL_DIR");
  std::string eosSource = "none";
  if (!o.ignoreEos && !o.parameters.empty()) {
    namespace fs = std::filesystem;
    fs::path first(o.parameters[0]);
    fs::path dir = fs::is_directory(first) ? first : first.parent_path();
    if (dir.empty())
      dir = ".";
    std::vector<int64_t> eos = dsv3rt::readEosTokenIds(dir.string());
    try {
      gen->setEosIds(eos);
      if (spec)
        spec->setEosIds(eos);
    } catch (const std::exception &e) {
      throw std::runtime_error((dir / "config.json").string() + ": " +
                               e.what());
    }
    if (!eos.empty())
      eosSource = joinIds(eos) + " (" + (dir / "config.json").string() + ")";
  }

  dsv3rt::GenerateOptions options;
  options.maxNewTokens = o.maxNewTokens;
  options.sampling = o.sampling;
  options.stopIds = o.stopIds;
  // Everything is checked before the (possibly long) bind.
  gen->validate(prompt, options);
  if (spec)
    spec->validate(prompt, options);

  using When = dsv3rt::BindProgressReporter::When;
  When when = o.quiet ? When::Never
              : o.progress
                  ? When::Always
                  : dsv3rt::BindProgressReporter::fromEnvironment(When::Slow);
  double bindSeconds = 0;
  if (!o.parameters.empty())
    bindSeconds = dsv3rt::BindProgressReporter("dsv3-generate", when)
                      .bind(module, o.parameters);

  // Copies the checkpoint may hold (the MTP layer's embedding and head):
  // bound once when byte-identical.
  if (!o.quiet)
    for (const dsv3rt_parameter_sharing &p : module.parameterSharing())
      std::fprintf(stderr,
                   p.identical
                       ? "dsv3-generate: %s is byte-identical to %s: bound to "
                         "it (%.1f MB not read twice)\n"
                       : "dsv3-generate: %s differs from %s: bound to its own "
                         "tensor (%.1f MB)\n",
                   p.name, p.same_as, p.bytes / 1e6);
  if (spec)
    return runSpeculative(o, session, *gen, *spec, prompt, options);

  bool first = true;
  dsv3rt::GenerateResult r;
  try {
    r = gen->generate(prompt, options, [&](int64_t token) {
      std::printf(first ? "%lld" : " %lld", static_cast<long long>(token));
      std::fflush(stdout);
      first = false;
      return true;
    });
  } catch (...) {
    if (!first) // end the line of ids already streamed
      std::printf("\n");
    throw;
  }
  std::printf("\n");
  std::fflush(stdout);
  writeStates(o, session, gen->position());
  if (o.quiet)
    return 0;

  const bool cuda = o.device == "cuda";
  std::fprintf(stderr,
               "dsv3-generate: prompt: %lld tokens (%lld prefill chunk(s) of "
               "%lld + %lld decode step(s)) in %.2f ms, %.1f tok/s%s\n",
               static_cast<long long>(r.promptTokens),
               static_cast<long long>(r.prefillCalls),
               static_cast<long long>(gen->prefillTokens()),
               static_cast<long long>(r.prefillDecodeCalls),
               r.prefillSeconds * 1e3, r.promptTokens / r.prefillSeconds,
               cuda ? " (includes the first call's parameter upload)" : "");
  if (!r.tokens.empty())
    std::fprintf(stderr, "dsv3-generate: first token after %.2f ms\n",
                 r.firstTokenSeconds * 1e3);
  if (!r.decodeSeconds.empty()) {
    std::vector<double> d = r.decodeSeconds;
    double total = 0;
    for (double s : d)
      total += s;
    std::sort(d.begin(), d.end());
    const size_t n = d.size();
    const double median =
        n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2; // seconds
    std::fprintf(stderr,
                 "dsv3-generate: decode: %zu token(s) in %.2f ms, %.1f tok/s, "
                 "median %.3f ms/token\n",
                 n, total * 1e3, n / total, median * 1e3);
  }
  std::string reason;
  if (r.reason == dsv3rt::StopReason::StopToken) {
    const int64_t last = r.tokens.back();
    const auto &eos = gen->eosIds();
    reason = std::find(eos.begin(), eos.end(), last) != eos.end()
                 ? "eos token " + std::to_string(last)
                 : "stop id " + std::to_string(last);
  } else {
    reason = "max-new-tokens (" + std::to_string(o.maxNewTokens) + ")";
  }
  std::fprintf(stderr, "dsv3-generate: %zu new token(s); stop: %s; eos: %s\n",
               r.tokens.size(), reason.c_str(), eosSource.c_str());
  std::fprintf(stderr,
               "dsv3-generate: parameters bound from %zu file(s) in %.2f s; "
               "peak resident memory %.1f MiB (VmHWM)\n",
               module.boundFileCount(), bindSeconds,
               dsv3rt::procStatusMiB("VmHWM"));
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    Options o = parseFlags(argc, argv);
    if (o.help) {
      std::cout << kUsage;
      return 0;
    }
    return run(o);
  } catch (const std::exception &e) {
    std::fflush(stdout);
    std::string m = e.what();
    std::replace(m.begin(), m.end(), '\n', ' '); // one line
    std::cerr << "dsv3-generate: error: " << m << "\n";
    return 2;
  } catch (...) {
    std::cerr << "dsv3-generate: error: unknown failure\n";
    return 2;
  }
}
