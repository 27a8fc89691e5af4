// Command-line flags of dsv3-run (IREE-style --name=value; no LLVM).
#ifndef DSV3_TOOLS_DSV3RUN_FLAGS_H
#define DSV3_TOOLS_DSV3RUN_FLAGS_H

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dsv3run {

struct Options {
  std::string module;
  std::string function;
  std::string device = "host";
  int threads = 0; // 0: libomp's default
  std::vector<std::string> parameters;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<std::string> expectedOutputs;
  // --state=NAME=SPEC and --state-output=NAME=TARGET, split at the first '='.
  std::vector<std::pair<std::string, std::string>> states;
  std::vector<std::pair<std::string, std::string>> stateOutputs;
  // Unset: the default for each output's dtype (defaultRtol).
  std::optional<double> rtol;
  double atol = 0;
  long benchmark = 0;
  bool list = false;
  bool reportMemory = false;
  bool progress = false;
  // Float inputs and states of another float dtype are rounded to the
  // argument's (f32 -> bf16, f64 -> f32, ...) instead of refused.
  bool allowNarrowing = false;
  bool help = false;
  bool version = false;
};

// Throws std::runtime_error with a usage message on a bad flag.
Options parseFlags(int argc, const char *const *argv);

const char *usageText();

// The --expected-rtol default for an output of this dtype: about one unit in
// the last place of the format, so that a correct result rounded to it
// passes: f32 1e-5, f16 1e-3, bf16 2^-7, f8e4m3fn 2^-4, f8e8m0fnu 2^-1, f64
// 1e-5 and integers (and i1) 0, which compares them exactly.
double defaultRtol(int dtype);

} // namespace dsv3run

#endif // DSV3_TOOLS_DSV3RUN_FLAGS_H
