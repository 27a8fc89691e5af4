#include "Flags.h"

#include "DType.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace dsv3run {

using dsv3rt::impl::DType;

const char *usageText() {
  return R"(usage: dsv3-run MODULE.so [flags]

  --function=NAME          entry to run (optional if the module has one entry)
  --device=host|cuda       session device (default host)
  --threads=N              threads of a host call's parallel loops (default:
                           OMP_NUM_THREADS if set, else one per core);
                           results do not depend on it
  --parameters=PATH        parameters: a .safetensors file, a shard index
                           (model.safetensors.index.json) or a checkpoint
                           directory (its model.safetensors.index.json, else
                           all its *.safetensors); repeatable
  --report-memory          after binding, print to stderr the parameter and
                           file counts, the bind time and the resident memory
  --progress               report the bind's progress (files mapped,
                           parameters bound, GB) on stderr from the start,
                           and its totals at the end; without it a bind that
                           takes over 2 s is reported only when stderr is a
                           terminal. DSV3_PROGRESS=1 in the environment does
                           the same, DSV3_PROGRESS=0 silences it
  --input=SPEC             entry input, repeatable, in input order:
                             @x.npy | @x.safetensors[:tensor] |
                             "2x3xf32=1 2 3 4 5 6" (one value is splatted);
                           a bf16/f8 input reads the .npy of an ml_dtypes
                           array (np.save writes descr <V2 for bfloat16,
                           <V1 for float8_*)
  --allow-narrowing        round float --input and --state values of
                           another float dtype (f32 or f64 .npy for a bf16
                           input, ...) to the argument's dtype, to nearest
                           even; without it they are refused
  --output=@y.npy|@y.safetensors[:tensor]|-|none
                           where to write each output, in output order
                           (- prints a summary, none skips it); without
                           --output every output is summarised. bf16/f8
                           go to .npy as np.save writes ml_dtypes arrays:
                           np.load(f).view(ml_dtypes.bfloat16)
  --state=NAME=SPEC        set session state NAME before the call (SPEC as
                           for --input; a .safetensors without :tensor reads
                           the tensor named NAME); repeatable
  --state-output=NAME=@s.npy|@s.safetensors[:tensor]|-
                           save state NAME after the call (before any
                           --benchmark calls); repeatable
  --expected-output=SPEC   reference per output (@ref.npy,
                           @ref.safetensors[:tensor] or a literal)
  --expected-rtol=R        relative tolerance; the default suits each
                           output's dtype: f32 1e-5, f16 1e-3, bf16 2^-7
                           (7.8e-3), f8e4m3fn 2^-4 (6.25e-2), f8e8m0fnu 0.5,
                           integers and i1 0 (exact); an explicit R
                           applies to every output
  --expected-atol=A        absolute tolerance (default 0); rtol=atol=0
                           compares bits exactly (NaN matches NaN)
  --benchmark=N            after the first call (the warm-up), time N more
                           calls and print their median, min, max and mean
  --list                   print the entries and their arguments (roles
                           input, parameter, state, output)
  --help                   this text
  --version                dsv3 version, commit and module ABI version

exit status: 0 success, 1 an output differs from --expected-output,
             2 usage, input or runtime error
)";
}

namespace {

[[noreturn]] void usageError(const std::string &message) {
  throw std::runtime_error(message + " (see --help)");
}

// "NAME=SPEC" of --state and --state-output, split at the first '='.
std::pair<std::string, std::string> parseNamed(const std::string &flag,
                                               const std::string &value) {
  size_t eq = value.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
    usageError("--" + flag + "=" + value + ": expected --" + flag +
               "=NAME=" + (flag == "state" ? "SPEC" : "@file"));
  return {value.substr(0, eq), value.substr(eq + 1)};
}

double parseDouble(const std::string &flag, const std::string &value) {
  errno = 0;
  char *end = nullptr;
  double d = std::strtod(value.c_str(), &end);
  if (value.empty() || *end || errno == ERANGE || !std::isfinite(d) || d < 0)
    usageError("--" + flag + "=" + value +
               ": expected a non-negative finite number");
  return d;
}

} // namespace

double defaultRtol(int dtype) {
  switch (static_cast<DType>(dtype)) {
  case DType::F32:
  case DType::F64:
    return 1e-5;
  case DType::F16:
    return 1e-3;
  case DType::BF16:
    return 0x1p-7;
  case DType::F8E4M3FN:
    return 0x1p-4;
  case DType::F8E8M0FNU:
    return 0x1p-1;
  default: // integers and i1
    return 0;
  }
}

Options parseFlags(int argc, const char *const *argv) {
  Options o;
  bool sawFunction = false, sawDevice = false, sawRtol = false, sawAtol = false,
       sawBenchmark = false, sawThreads = false;
  auto once = [](bool &seen, const std::string &name) {
    if (seen)
      usageError("--" + name + " given more than once");
    seen = true;
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
    bool hasValue = eq != std::string::npos;
    std::string value = hasValue ? arg.substr(eq + 1) : "";
    if (name == "list" || name == "help" || name == "version" ||
        name == "report-memory" || name == "progress" ||
        name == "allow-narrowing") {
      if (hasValue)
        usageError("--" + name + " takes no value");
      if (name == "list")
        o.list = true;
      else if (name == "help")
        o.help = true;
      else if (name == "version")
        o.version = true;
      else if (name == "progress")
        o.progress = true;
      else if (name == "allow-narrowing")
        o.allowNarrowing = true;
      else
        o.reportMemory = true;
      continue;
    }
    if (!hasValue) {
      static const char *known[] = {
          "function",  "device",          "parameters",    "input",
          "output",    "expected-output", "expected-rtol", "expected-atol",
          "benchmark", "state",           "state-output",  "threads"};
      for (const char *k : known)
        if (name == k)
          usageError("--" + name + " needs a value: --" + name + "=...");
      usageError("unknown flag " + arg);
    }
    if (name == "function") {
      once(sawFunction, name);
      if (value.empty())
        usageError("--function= needs an entry name (see --list)");
      o.function = value;
    } else if (name == "device") {
      once(sawDevice, name);
      if (value != "host" && value != "cuda")
        usageError("--device=" + value + ": expected host or cuda");
      o.device = value;
    } else if (name == "parameters") {
      o.parameters.push_back(value);
    } else if (name == "input") {
      o.inputs.push_back(value);
    } else if (name == "output") {
      o.outputs.push_back(value);
    } else if (name == "state") {
      o.states.push_back(parseNamed(name, value));
    } else if (name == "state-output") {
      o.stateOutputs.push_back(parseNamed(name, value));
    } else if (name == "expected-output") {
      o.expectedOutputs.push_back(value);
    } else if (name == "expected-rtol") {
      once(sawRtol, name);
      o.rtol = parseDouble(name, value);
    } else if (name == "expected-atol") {
      once(sawAtol, name);
      o.atol = parseDouble(name, value);
    } else if (name == "threads") {
      once(sawThreads, name);
      errno = 0;
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || errno == ERANGE || n < 1 || n > 1024)
        usageError("--threads=" + value + ": expected a count from 1 to 1024");
      o.threads = static_cast<int>(n);
    } else if (name == "benchmark") {
      once(sawBenchmark, name);
      errno = 0;
      char *end = nullptr;
      long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end || errno == ERANGE || n < 1)
        usageError("--benchmark=" + value + ": expected a positive integer");
      o.benchmark = n;
    } else {
      usageError("unknown flag --" + name);
    }
  }
  if (!o.help && !o.version && o.module.empty())
    usageError("no module given");
  return o;
}

} // namespace dsv3run
