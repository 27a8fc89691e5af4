// dsv3-run: load a compiled dsv3 module, bind parameters, set session state,
// run one entry on inputs from files or literals, then print, save or check
// the outputs and save the state.
#include "BindProgress.h"
#include "Compare.h"
#include "Flags.h"
#include "TensorSpec.h"
#include "dsv3/Version.h"

#include "dsv3/Runtime/dsv3rt.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

using namespace dsv3run;
using dsv3rt::impl::describe;
using dsv3rt::impl::DType;
using dsv3rt::impl::dtypeName;

namespace {

std::vector<int64_t> shapeOf(const dsv3rt_arg_info &a) {
  return std::vector<int64_t>(a.shape, a.shape + a.rank);
}

HostTensor toHost(const dsv3rt::Tensor &t) {
  HostTensor h(static_cast<DType>(t.dtype()), t.shape());
  if (h.byteSize())
    std::memcpy(h.data(), t.data(), h.byteSize());
  return h;
}

const char *roleColumn(dsv3_arg_role role) {
  switch (role) {
  case DSV3_ROLE_INPUT:
    return "input    ";
  case DSV3_ROLE_PARAMETER:
    return "parameter";
  case DSV3_ROLE_OUTPUT:
    return "output   ";
  case DSV3_ROLE_STATE:
    return "state    ";
  }
  return "?        ";
}

void listEntries(const dsv3rt::Module &m) {
  std::cout << "module target: " << m.target() << "\n";
  for (size_t e = 0; e < m.entryCount(); ++e) {
    std::cout << "entry " << m.entryName(e) << "\n";
    std::vector<dsv3rt_arg_info> args = m.args(e);
    for (size_t i = 0; i < args.size(); ++i) {
      const dsv3rt_arg_info &a = args[i];
      dsv3rt_arg_attrs attrs = m.attrs(e, i);
      std::cout << "  " << roleColumn(a.role) << " " << a.name << ": "
                << describe(static_cast<DType>(a.dtype), shapeOf(a));
      if (attrs.stacked)
        std::cout << " (stacked: " << a.shape[0] << " experts)";
      if (attrs.has_bounds) {
        std::cout << " in [" << attrs.bounds_min << ", " << attrs.bounds_max
                  << "]";
        if (*attrs.bounds_why)
          std::cout << " (" << attrs.bounds_why << ")";
      }
      std::cout << "\n";
    }
  }
}

// Whether a shape fits a declared one whose dynamic dims are -1.
bool shapeFits(const std::vector<int64_t> &shape,
               const std::vector<int64_t> &declared) {
  if (shape.size() != declared.size())
    return false;
  for (size_t d = 0; d < shape.size(); ++d)
    if (declared[d] != -1 && declared[d] != shape[d])
      return false;
  return true;
}

// Host tensor for an --input or --state, checked against the argument or
// state so the message can name the file. Raw u8 arrays may feed f8, and an
// .npy's void dtype ('<V2' of an ml_dtypes bfloat16 array) is read as the
// argument's: numpy has no such dtypes, so their bytes are saved so. Floats
// of another dtype are rounded only when asked (--allow-narrowing): a silent
// f32 -> bf16 would hide that the data was not what the module expects.
dsv3rt::Tensor loadTensor(const std::string &spec, const std::string &what,
                          const std::string &name, dsv3_dtype dtype,
                          const std::vector<int64_t> &shape,
                          bool allowNarrowing) {
  DType want = static_cast<DType>(dtype);
  auto fits = [&](DType got, const std::vector<int64_t> &gotShape) {
    return shapeFits(gotShape, shape) &&
           (got == want || (allowNarrowing && floatConvertible(got, want)));
  };
  auto refuse = [&](DType got, const std::vector<int64_t> &gotShape) {
    std::string m = what + " from " + spec + ": expected " +
                    describe(want, shape) + ", got " + describe(got, gotShape);
    if (shapeFits(gotShape, shape) && floatConvertible(got, want))
      m += std::string("; pass --allow-narrowing to round ") + dtypeName(got) +
           " to " + dtypeName(want) + " (to nearest even), or give " +
           dtypeName(want) + " data";
    throw std::runtime_error(m);
  };
  // A literal's declared type is checked before its tensor is allocated
  // ("2000000x4000xf32=0" for a 2x4 input must not allocate 32 GB).
  if (std::optional<LiteralType> lit = literalType(spec, allowNarrowing))
    if (!fits(lit->dtype, lit->shape))
      refuse(lit->dtype, lit->shape);
  HostTensor t = readTensorSpec(spec, name, /*allowF64=*/allowNarrowing, want);
  if (t.dtype == DType::U8 &&
      (want == DType::F8E4M3FN || want == DType::F8E8M0FNU))
    t.dtype = want;
  if (!fits(t.dtype, t.shape))
    refuse(t.dtype, t.shape);
  if (t.dtype != want)
    t = convertFloat(t, want);
  return dsv3rt::Tensor(dtype, t.shape, t.data());
}

dsv3rt::Tensor loadInput(const std::string &spec, size_t index,
                         const dsv3rt_arg_info &arg, bool allowNarrowing) {
  return loadTensor(
      spec, "input " + std::to_string(index) + " (\"" + arg.name + "\")",
      arg.name, arg.dtype, shapeOf(arg), allowNarrowing);
}

// The session state named by a --state or --state-output flag.
const dsv3rt::StateInfo &findState(const std::vector<dsv3rt::StateInfo> &all,
                                   const std::string &flag,
                                   const std::string &name,
                                   const std::string &value) {
  std::string names;
  for (const dsv3rt::StateInfo &s : all) {
    if (s.name == name)
      return s;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  throw std::runtime_error("--" + flag + "=" + name + "=" + value +
                           ": the module declares no state \"" + name +
                           "\" (states: " + (names.empty() ? "none" : names) +
                           ")");
}

// VmRSS of /proc/self/status in MiB (-1 if unavailable): parameters are
// mapped, so this shows what binding actually read or copied (misaligned or
// gathered tensors), not the checkpoint size.
double residentMiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::strtod(line.c_str() + 6, nullptr) / 1024.0; // kB
  return -1;
}

// The median, min, max and mean of per-call times in ms.
void printBenchmark(const std::string &entry, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  const double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  double total = 0;
  for (double t : ms)
    total += t;
  std::printf("benchmark %s: %zu timed call(s) after 1 warm-up call\n"
              "  per call: median %.3f ms, min %.3f ms, max %.3f ms, mean "
              "%.3f ms\n",
              entry.c_str(), n, median, ms.front(), ms.back(), total / n);
}

// Per-kernel device times of the timed calls, the most expensive first, with
// the rates the module's kernel costs give (bytes and flops per launch).
void printKernelProfile(std::vector<dsv3rt::KernelStat> kernels, long calls,
                        const std::vector<dsv3rt_kernel_cost> &costs) {
  std::map<std::string, dsv3rt_kernel_cost> costOf;
  for (const dsv3rt_kernel_cost &c : costs)
    costOf[c.name] = c;
  double total = 0;
  uint64_t launches = 0;
  for (const dsv3rt::KernelStat &k : kernels)
    total += k.totalMs, launches += k.launches;
  std::sort(kernels.begin(), kernels.end(), [](const auto &a, const auto &b) {
    return a.totalMs != b.totalMs ? a.totalMs > b.totalMs : a.name < b.name;
  });
  std::printf("  kernels per call: %.1f launches of %zu kernels, %.3f ms of "
              "device time (CUDA events)\n",
              static_cast<double>(launches) / calls, kernels.size(),
              total / calls);
  std::printf("  %-48s %9s %12s %7s %9s %9s\n", "kernel", "launches",
              "ms per call", "share", "GB/s", "TFLOP/s");
  // A rate from the compiler's count per launch, or "-" where it has none.
  auto rate = [](uint64_t perLaunch, const dsv3rt::KernelStat &k,
                 double scale) {
    char text[32] = "-";
    if (perLaunch != DSV3RT_COST_UNKNOWN && k.totalMs > 0)
      std::snprintf(text, sizeof text, "%.3g",
                    static_cast<double>(perLaunch) * k.launches /
                        (k.totalMs * 1e-3) / scale);
    return std::string(text);
  };
  for (const dsv3rt::KernelStat &k : kernels) {
    auto it = costOf.find(k.name);
    uint64_t bytes =
        it == costOf.end() ? DSV3RT_COST_UNKNOWN : it->second.bytes;
    uint64_t flops =
        it == costOf.end() ? DSV3RT_COST_UNKNOWN : it->second.flops;
    std::printf("  %-48s %9.1f %12.4f %6.1f%% %9s %9s\n", k.name.c_str(),
                static_cast<double>(k.launches) / calls, k.totalMs / calls,
                total > 0 ? 100 * k.totalMs / total : 0.0,
                rate(bytes, k, 1e9).c_str(), rate(flops, k, 1e12).c_str());
  }
}

int run(const Options &o) {
  dsv3rt::Session session(o.device);
  if (o.threads)
    session.setThreads(o.threads);
  dsv3rt::Module module(session, o.module);
  if (o.list) {
    listEntries(module);
    return 0;
  }
  size_t entry;
  if (!o.function.empty()) {
    entry = module.findEntry(o.function);
  } else if (module.entryCount() == 1) {
    entry = 0;
  } else {
    throw std::runtime_error(o.module + " has " +
                             std::to_string(module.entryCount()) +
                             " entries; choose one with --function (see "
                             "--list)");
  }
  const std::string entryName = module.entryName(entry);
  std::vector<dsv3rt_arg_info> inArgs, outArgs;
  for (const dsv3rt_arg_info &a : module.args(entry)) {
    if (a.role == DSV3_ROLE_INPUT)
      inArgs.push_back(a);
    else if (a.role == DSV3_ROLE_OUTPUT)
      outArgs.push_back(a);
  }
  if (o.inputs.size() != inArgs.size()) {
    std::string want;
    for (const dsv3rt_arg_info &a : inArgs)
      want += std::string(want.empty() ? "" : ", ") + a.name + ": " +
              describe(static_cast<DType>(a.dtype), shapeOf(a));
    throw std::runtime_error("entry \"" + entryName + "\" takes " +
                             std::to_string(inArgs.size()) + " input(s) (" +
                             want + "), got " +
                             std::to_string(o.inputs.size()) + " --input");
  }
  if (!o.outputs.empty() && o.outputs.size() != outArgs.size())
    throw std::runtime_error(
        "entry \"" + entryName + "\" has " + std::to_string(outArgs.size()) +
        " output(s), got " + std::to_string(o.outputs.size()) + " --output");
  if (!o.expectedOutputs.empty() && o.expectedOutputs.size() != outArgs.size())
    throw std::runtime_error(
        "entry \"" + entryName + "\" has " + std::to_string(outArgs.size()) +
        " output(s), got " + std::to_string(o.expectedOutputs.size()) +
        " --expected-output");
  // An unknown state fails before running rather than after.
  const std::vector<dsv3rt::StateInfo> states = session.states();
  for (const auto &[name, target] : o.stateOutputs)
    findState(states, "state-output", name, target);
  std::vector<std::pair<std::string, dsv3rt::Tensor>> stateValues;
  for (const auto &[name, spec] : o.states) {
    const dsv3rt::StateInfo &s = findState(states, "state", name, spec);
    stateValues.emplace_back(name,
                             loadTensor(spec, "state \"" + name + "\"", name,
                                        s.dtype, s.shape, o.allowNarrowing));
  }

  // dsv3-run's stderr is often a test log: unasked, only a terminal shows
  // the progress of a slow bind.
  using When = dsv3rt::BindProgressReporter::When;
  const When when = o.progress
                        ? When::Always
                        : dsv3rt::BindProgressReporter::fromEnvironment(
                              isatty(STDERR_FILENO) ? When::Slow : When::Never);
  double seconds;
  try {
    seconds = dsv3rt::BindProgressReporter("dsv3-run", when)
                  .bind(module, o.parameters, &entry);
  } catch (const std::exception &e) {
    const std::vector<dsv3rt_arg_info> args = module.args(entry);
    if (!o.parameters.empty() ||
        std::none_of(args.begin(), args.end(), [](const dsv3rt_arg_info &a) {
          return a.role == DSV3_ROLE_PARAMETER;
        }))
      throw;
    throw std::runtime_error(std::string(e.what()) +
                             "; give the checkpoint with "
                             "--parameters=MODEL_DIR (or a .safetensors file "
                             "or shard index)");
  }
  if (o.reportMemory) {
    size_t parameters = 0;
    for (const dsv3rt_arg_info &a : module.args(entry))
      parameters += a.role == DSV3_ROLE_PARAMETER;
    std::fprintf(stderr,
                 "bound %zu parameters from %zu files in %.3f s; resident "
                 "memory %.1f MiB\n",
                 parameters, module.boundFileCount(), seconds, residentMiB());
  }
  std::vector<dsv3rt::Tensor> inputs;
  for (size_t i = 0; i < inArgs.size(); ++i)
    inputs.push_back(loadInput(o.inputs[i], i, inArgs[i], o.allowNarrowing));
  std::vector<HostTensor> expected;
  for (size_t i = 0; i < o.expectedOutputs.size(); ++i) {
    const std::string &spec = o.expectedOutputs[i];
    // As for inputs: the shape before the allocation (a reference may have
    // another dtype than its output, e.g. f32 for a bf16 output).
    if (std::optional<LiteralType> lit = literalType(spec, /*allowF64=*/true))
      if (!shapeFits(lit->shape, shapeOf(outArgs[i])))
        throw std::runtime_error("--expected-output=" + spec + ": output " +
                                 std::to_string(i) + " (\"" + outArgs[i].name +
                                 "\") is " +
                                 describe(static_cast<DType>(outArgs[i].dtype),
                                          shapeOf(outArgs[i])) +
                                 ", the literal declares shape " +
                                 dsv3rt::impl::shapeString(lit->shape));
    // A void-dtype reference ('<V2') holds elements of the output's dtype.
    expected.push_back(readTensorSpec(spec, outArgs[i].name, /*allowF64=*/true,
                                      static_cast<DType>(outArgs[i].dtype)));
  }

  for (const auto &[name, value] : stateValues)
    session.writeState(name, value);

  std::vector<dsv3rt::Tensor> outputs = module.call(entry, inputs);

  // The state as this call left it (benchmark calls below change it again).
  for (const auto &[name, target] : o.stateOutputs) {
    HostTensor h = toHost(session.readState(name));
    if (target == "-")
      std::cout << "state " << name << ": " << summarize(h) << "\n";
    else
      writeTensorSpec(target, name, h);
  }

  // The call above was the warm-up (module load, first touch of mapped
  // parameters, device uploads); only the calls after it are timed.
  if (o.benchmark > 0) {
    using clock = std::chrono::steady_clock;
    std::vector<double> ms;
    // On cuda, the timed calls also time each kernel on the device.
    const bool cuda = session.device() == "cuda";
    if (cuda)
      session.setKernelProfiling(true);
    for (long i = 0; i < o.benchmark; ++i) {
      auto start = clock::now();
      module.call(entry, inputs);
      ms.push_back(
          std::chrono::duration<double, std::milli>(clock::now() - start)
              .count());
    }
    printBenchmark(entryName, std::move(ms));
    if (cuda) {
      printKernelProfile(session.kernelStats(), o.benchmark,
                         module.kernelCosts());
      session.setKernelProfiling(false);
    }
  }

  for (size_t i = 0; i < outputs.size(); ++i) {
    const bool print = o.outputs.empty() || o.outputs[i] == "-";
    if (!print && o.outputs[i] == "none")
      continue; // skipped: neither printed nor written
    HostTensor h = toHost(outputs[i]);
    if (print)
      std::cout << "output " << i << " (" << outArgs[i].name
                << "): " << summarize(h) << "\n";
    else
      writeTensorSpec(o.outputs[i], outArgs[i].name, h);
  }

  if (expected.empty())
    return 0;
  bool allOk = true;
  for (size_t i = 0; i < outputs.size(); ++i) {
    CompareResult r =
        compareTensors(i, toHost(outputs[i]), expected[i],
                       o.rtol.value_or(defaultRtol(outArgs[i].dtype)), o.atol);
    allOk &= r.ok;
    std::cout << (r.ok ? "" : "[FAILED] ") << r.message << "\n";
  }
  if (!allOk)
    return 1;
  std::cout << "[SUCCESS] all " << outputs.size() << " outputs match\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    Options o = parseFlags(argc, argv);
    if (o.help) {
      std::cout << usageText();
      return 0;
    }
    if (o.version) {
      std::cout << "dsv3-run (dsv3 " DSV3_VERSION ", commit " DSV3_COMMIT
                   "), module ABI v"
                << DSV3_ABI_VERSION << "\n";
      return 0;
    }
    return run(o);
  } catch (const std::exception &e) {
    std::cerr << "dsv3-run: error: " << e.what() << "\n";
    return 2;
  } catch (...) {
    std::cerr << "dsv3-run: error: unknown failure\n";
    return 2;
  }
}
