#include "Module.h"

#include "CudaCall.h"
#include "CudaDriver.h"
#include "Error.h"
#include "ModuleCall.h"
#include "QuantizeFP8.h"
#include "Stacked.h"

#include <cstring>
#include <dlfcn.h>
#include <set>

namespace dsv3rt::impl {

const char *deviceName(Device d) { return d == Device::Cuda ? "cuda" : "host"; }

std::vector<int64_t> makeDescriptor(const void *data,
                                    const std::vector<int64_t> &shape) {
  const size_t rank = shape.size();
  std::vector<int64_t> words(DSV3_DESCRIPTOR_WORDS(rank));
  static_assert(sizeof(void *) == sizeof(int64_t), "64-bit targets only");
  std::memcpy(&words[0], &data, sizeof(void *)); // allocated
  std::memcpy(&words[1], &data, sizeof(void *)); // aligned
  words[2] = 0;                                  // offset
  int64_t stride = 1;
  for (size_t i = rank; i-- > 0;) {
    words[3 + i] = shape[i];
    words[3 + rank + i] = stride;
    stride *= shape[i];
  }
  return words;
}

namespace {

// Whether this CPU runs code built for x86-64 level `level` (metadata
// x86_64_level; empty: not recorded, so no check).
bool cpuHasLevel(const std::string &level) {
  __builtin_cpu_init();
  if (level == "x86-64-v4")
    return __builtin_cpu_supports("x86-64-v4");
  if (level == "x86-64-v3")
    return __builtin_cpu_supports("x86-64-v3");
  if (level == "x86-64-v2")
    return __builtin_cpu_supports("x86-64-v2");
  return true;
}

// dlerror() text for the last dl* failure.
std::string dlError() {
  const char *e = dlerror();
  return e ? e : "unknown error";
}

} // namespace

Module::Module(StateStore &states, const std::string &path)
    : device_(states.device()), states_(states), path_(path) {
  const Device device = device_;
  // Driver errors raised by a cuda module's global constructors (mgpuModuleLoad
  // inside dlopen) land in the error slot; start from a clean one.
  cuda::takeError();
  dlerror();
  // dlopen searches the library path for a name without a slash; a module
  // path is a file path, so "m.so" means ./m.so.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  handle_ = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_)
    fail(path + ": cannot load module: " + dlError());
  installModuleAllocator(handle_);
  // A host module with parallel loops links libomp; its thread count is the
  // session's (dsv3rt_session_set_threads). Looked up through the module's
  // handle, so the runtime itself does not link libomp.
  ompSetNumThreads_ =
      reinterpret_cast<void (*)(int)>(dlsym(handle_, "omp_set_num_threads"));
  try {
    auto abiFn = reinterpret_cast<dsv3_module_abi_version_fn>(
        dlsym(handle_, "dsv3_module_abi_version"));
    if (!abiFn)
      fail(path + ": not a dsv3 module: it does not export "
                  "dsv3_module_abi_version");
    uint32_t abi = abiFn();
    if (abi != DSV3_ABI_VERSION)
      fail("module " + path + " was compiled for ABI v" + std::to_string(abi) +
           ", runtime is v" + std::to_string(DSV3_ABI_VERSION));
    auto metaFn = reinterpret_cast<dsv3_module_metadata_fn>(
        dlsym(handle_, "dsv3_module_metadata"));
    if (!metaFn)
      fail(path + ": not a dsv3 module: it does not export "
                  "dsv3_module_metadata");
    metadata_ = parseMetadata(path, metaFn());
    // Before any entry runs: an instruction the CPU lacks would kill the
    // process (SIGILL), e.g. a module built with --march=x86-64-v4 (AVX-512)
    // on an AVX2 CPU.
    if (!cpuHasLevel(metadata_.x86Level))
      fail(path + ": the module was compiled for " + metadata_.x86Level +
           " (dsv3-compile --march), which this CPU does not support; "
           "recompile it with --march=x86-64-v3 or --march=native");
    if (metadata_.target != deviceName(device))
      fail(path + ": module targets \"" + metadata_.target +
           "\" but the session device is \"" + deviceName(device) +
           "\"; load it into a \"" + metadata_.target +
           "\" session (dsv3-run --device=" + metadata_.target + ")");
    for (const EntryInfo &e : metadata_.entries) {
      auto fn =
          reinterpret_cast<dsv3_entry_fn>(dlsym(handle_, e.symbol.c_str()));
      if (!fn)
        fail(path + ": entry \"" + e.name + "\": symbol \"" + e.symbol +
             "\" is not exported by the module");
      entryFns_.push_back(fn);
    }
    checkParameterConsistency();
    if (device == Device::Cuda) {
      std::string loadError = cuda::takeError();
      // Without a device the constructors' failures are expected; calls
      // report "no CUDA device". With one, they are real errors.
      if (!loadError.empty() && cuda::driver())
        fail(path + ": CUDA error while loading the module: " + loadError);
    }
    // Last: a module that fails to load declares nothing.
    declareStates();
  } catch (...) {
    dlclose(handle_);
    throw;
  }
}

Module::~Module() {
  deviceParameters_.reset(); // before dlclose: frees need the driver only
  checkpoint_.reset();
  if (handle_)
    dlclose(handle_);
}

size_t Module::findEntry(const std::string &name) const {
  std::string names;
  for (size_t i = 0; i < metadata_.entries.size(); ++i) {
    if (metadata_.entries[i].name == name)
      return i;
    names += (i ? ", " : "") + metadata_.entries[i].name;
  }
  fail(path_ + ": no entry named \"" + name +
       "\" (entries: " + (names.empty() ? "none" : names) + ")");
}

void Module::checkParameterConsistency() const {
  auto kind = [](const ArgInfo &a) {
    return describe(a.dtype, a.shape) + (a.stacked ? " stacked" : "") +
           (a.expertPointers ? " (expert_pointers)" : "");
  };
  std::map<std::string, std::pair<const ArgInfo *, const EntryInfo *>> seen;
  for (const EntryInfo &e : metadata_.entries)
    for (const ArgInfo &a : e.args) {
      if (a.role != DSV3_ROLE_PARAMETER)
        continue;
      auto [it, inserted] = seen.insert({a.name, {&a, &e}});
      const ArgInfo &prev = *it->second.first;
      if (!inserted && (prev.dtype != a.dtype || prev.shape != a.shape ||
                        prev.stacked != a.stacked ||
                        prev.expertPointers != a.expertPointers))
        fail(path_ + ": invalid metadata: parameter \"" + a.name + "\" is " +
             kind(prev) + " in entry \"" + it->second.second->name + "\" but " +
             kind(a) + " in entry \"" + e.name + "\"");
      if (!inserted &&
          (prev.sameAs != a.sameAs || prev.quantizedFrom != a.quantizedFrom ||
           prev.scalesOf != a.scalesOf))
        fail(path_ + ": invalid metadata: parameter \"" + a.name +
             "\" has different \"same_as\", \"quantized_from\" or "
             "\"scales_of\" in entries \"" +
             it->second.second->name + "\" and \"" + e.name + "\"");
    }
  // A scales_of names a quantized parameter and has its block-scale shape.
  for (const auto &[name, use] : seen) {
    const ArgInfo &a = *use.first;
    if (a.scalesOf.empty())
      continue;
    auto other = seen.find(a.scalesOf);
    if (other == seen.end() || !other->second.first->quantizedFrom)
      fail(path_ + ": invalid metadata: parameter \"" + name +
           "\" is scales_of \"" + a.scalesOf +
           "\", which is not a quantized_from parameter");
    const std::vector<int64_t> &q = other->second.first->shape;
    const std::vector<int64_t> want = {
        (q[0] + kQuantizeBlock - 1) / kQuantizeBlock,
        (q[1] + kQuantizeBlock - 1) / kQuantizeBlock};
    if (a.shape != want)
      fail(path_ + ": invalid metadata: parameter \"" + name + "\" is " +
           describe(a.dtype, a.shape) + " but the 128x128 block scales of \"" +
           a.scalesOf + "\" are " + describe(DType::F32, want));
  }
  // A same_as names a parameter of the module, of the same kind.
  for (const auto &[name, use] : seen) {
    const ArgInfo &a = *use.first;
    if (a.sameAs.empty())
      continue;
    auto other = seen.find(a.sameAs);
    if (other == seen.end())
      fail(path_ + ": invalid metadata: parameter \"" + name +
           "\" is same_as \"" + a.sameAs + "\", which is not a parameter");
    if (kind(*other->second.first) != kind(a))
      fail(path_ + ": invalid metadata: parameter \"" + name + "\" is " +
           kind(a) + " but its same_as \"" + a.sameAs + "\" is " +
           kind(*other->second.first));
  }
}

void Module::declareStates() {
  std::vector<StateStore::Declaration> declarations;
  for (const EntryInfo &e : metadata_.entries)
    for (const ArgInfo &a : e.args)
      if (a.role == DSV3_ROLE_STATE)
        declarations.push_back(
            {a.name, a.dtype, a.shape, "entry \"" + e.name + "\" of " + path_});
  states_.declare(declarations);
}

const ArgInfo *Module::quantizedParameter(const std::string &name) const {
  for (const EntryInfo &e : metadata_.entries)
    for (const ArgInfo &a : e.args)
      if (a.role == DSV3_ROLE_PARAMETER && a.name == name && a.quantizedFrom)
        return &a;
  fail(path_ + ": no quantized parameter \"" + name + "\"");
}

Module::Parameter
Module::bindQuantized(const ArgInfo &a, const Checkpoint &checkpoint,
                      const std::string &searched,
                      std::unique_ptr<HostTensor> &scales) const {
  const Checkpoint::Located *found = checkpoint.find(a.name);
  if (!found)
    fail(path_ + ": missing parameter \"" + a.name +
         "\" (searched: " + searched + ")");
  const SafetensorsTensor &t = *found->tensor;
  if (t.dtype != *a.quantizedFrom || t.shape != a.shape)
    fail(path_ + ": parameter \"" + a.name + "\" in " + found->file->path() +
         ": expected " + describe(*a.quantizedFrom, a.shape) +
         " (the module quantizes it to " + describe(a.dtype, a.shape) +
         " when binding), found " + describe(t.dtype, t.shape));
  Parameter p;
  p.owned = std::make_unique<HostTensor>(a.dtype, a.shape);
  scales = std::make_unique<HostTensor>(
      DType::F32,
      std::vector<int64_t>{(a.shape[0] + kQuantizeBlock - 1) / kQuantizeBlock,
                           (a.shape[1] + kQuantizeBlock - 1) / kQuantizeBlock});
  quantizeE4M3Blocks(t.dtype, t.data, a.shape[0], a.shape[1], p.owned->data(),
                     reinterpret_cast<float *>(scales->data()));
  p.data = p.owned->data();
  p.size = t.size / dtypeSize(t.dtype);
  return p;
}

Module::Parameter
Module::bindOne(const ArgInfo &a, const Checkpoint &checkpoint,
                const std::string &searched,
                const std::function<void(uint64_t)> &copied) const {
  Parameter p;
  if (!a.stacked) {
    const Checkpoint::Located *found = checkpoint.find(a.name);
    if (!found)
      fail(path_ + ": missing parameter \"" + a.name +
           "\" (searched: " + searched + ")");
    const SafetensorsTensor &t = *found->tensor;
    if (t.dtype != a.dtype || t.shape != a.shape)
      fail(path_ + ": parameter \"" + a.name + "\" in " + found->file->path() +
           ": expected " + describe(a.dtype, a.shape) + ", found " +
           describe(t.dtype, t.shape));
    if (a.dtype == DType::I1)
      if (std::optional<uint64_t> i = findInvalidI1(t.data, t.size))
        fail(path_ + ": parameter \"" + a.name + "\"" +
             describeInvalidI1(t.shape, t.data, *i) + " (in " +
             found->file->path() + ")");
    p.data = t.data;
    p.size = t.size;
    // Modules may load elements with natural alignment; the mapping only
    // guarantees what the file's offsets happen to give.
    if (reinterpret_cast<uintptr_t>(t.data) % dtypeSize(t.dtype) != 0) {
      p.owned = std::make_unique<HostTensor>(t.dtype, t.shape);
      std::memcpy(p.owned->data(), t.data, t.size);
      p.data = p.owned->data();
    }
    return p;
  }

  // Stacked: shape [E, ...rest] from the E tensors "{e}" -> 0..E-1.
  const int64_t experts = a.shape[0];
  const std::vector<int64_t> rest(a.shape.begin() + 1, a.shape.end());
  const uint64_t bytesPerExpert = *checkedByteSize(a.dtype, rest);
  p.bytesPerExpert = bytesPerExpert;
  p.size = bytesPerExpert * static_cast<uint64_t>(experts);
  std::vector<ExpertSlice> slices;
  for (int64_t e = 0; e < experts; ++e) {
    const std::string name = expertTensorName(a.name, e);
    const std::string which = "expert " + std::to_string(e) +
                              " of stacked parameter \"" + a.name + "\" " +
                              describe(a.dtype, a.shape);
    const Checkpoint::Located *found = checkpoint.find(name);
    if (!found)
      fail(path_ + ": missing parameter \"" + name + "\" (" + which +
           "; searched: " + searched + ")");
    const SafetensorsTensor &t = *found->tensor;
    if (t.dtype != a.dtype || t.shape != rest)
      fail(path_ + ": parameter \"" + name + "\" in " + found->file->path() +
           " (" + which + "): expected " + describe(a.dtype, rest) +
           ", found " + describe(t.dtype, t.shape));
    if (a.dtype == DType::I1)
      if (std::optional<uint64_t> i = findInvalidI1(t.data, t.size))
        fail(path_ + ": parameter \"" + name + "\"" +
             describeInvalidI1(t.shape, t.data, *i) + " (" + which + ", in " +
             found->file->path() + ")");
    slices.push_back({found->file, t.data});
    p.experts.push_back(t.data);
  }
  // Zero copy when the checkpoint already holds the experts back to back:
  // experts no token is routed to are then never read from disk.
  if (const uint8_t *view =
          stackedView(slices, bytesPerExpert, dtypeSize(a.dtype))) {
    p.data = view;
    for (int64_t e = 0; e < experts; ++e)
      p.experts[e] = view + e * bytesPerExpert;
  } else if (a.expertPointers || device_ == Device::Cuda) {
    // Host modules read each expert where it lies (a table of addresses);
    // cuda uploads each expert into one device buffer. Either way only a
    // misaligned expert is copied, since modules load elements with natural
    // alignment.
    for (int64_t e = 0; e < experts; ++e) {
      if (reinterpret_cast<uintptr_t>(p.experts[e]) % dtypeSize(a.dtype) == 0)
        continue;
      auto copy = std::make_unique<HostTensor>(a.dtype, rest);
      if (bytesPerExpert)
        std::memcpy(copy->data(), p.experts[e], bytesPerExpert);
      copied(bytesPerExpert);
      p.experts[e] = copy->data();
      p.ownedExperts.push_back(std::move(copy));
    }
  } else {
    // A host module built to take the experts as one block: gather them
    // once, at bind time.
    p.owned = std::make_unique<HostTensor>(a.dtype, a.shape);
    for (int64_t e = 0; e < experts; ++e) {
      if (bytesPerExpert)
        std::memcpy(p.owned->data() + e * bytesPerExpert, p.experts[e],
                    bytesPerExpert);
      copied(bytesPerExpert);
      p.experts[e] = p.owned->data() + e * bytesPerExpert;
    }
    p.data = p.owned->data();
  }
  if (a.expertPointers)
    for (const uint8_t *expert : p.experts)
      p.table.push_back(reinterpret_cast<uintptr_t>(expert));
  return p;
}

void Module::bindParameters(const std::vector<std::string> &paths,
                            std::optional<size_t> onlyEntry) {
  if (onlyEntry && *onlyEntry >= metadata_.entries.size())
    fail(path_ + ": entry index " + std::to_string(*onlyEntry) +
         " out of range");
  BindProgress progress;
  auto report = [&] {
    if (bindProgress_)
      bindProgress_(progress);
  };
  CheckpointProgressFn onFile;
  if (bindProgress_)
    onFile = [&](const CheckpointProgress &files) {
      progress.files = files;
      report();
    };
  auto checkpoint = std::make_unique<Checkpoint>(paths, onFile);
  const std::string searched = checkpoint->searched();
  // Each parameter once (entries share them), in entry order.
  std::vector<const ArgInfo *> toBind;
  std::set<std::string> seen;
  for (size_t ei = 0; ei < metadata_.entries.size(); ++ei) {
    if (onlyEntry && ei != *onlyEntry)
      continue;
    for (const ArgInfo &a : metadata_.entries[ei].args)
      if (a.role == DSV3_ROLE_PARAMETER && seen.insert(a.name).second) {
        toBind.push_back(&a);
        progress.parameterBytesTotal +=
            checkedByteSize(a.dtype, a.shape).value_or(0);
      }
  }
  progress.parametersTotal = toBind.size();
  report();
  std::map<std::string, Parameter> params;
  auto copied = [&](uint64_t bytes) {
    progress.parameterBytesDone += bytes;
    report();
  };
  // Block scales of the parameters quantized at bind time, by the quantized
  // parameter's name; bound after every other parameter.
  std::map<std::string, std::unique_ptr<HostTensor>> scales;
  std::vector<const ArgInfo *> ordered;
  for (bool scalesLast : {false, true})
    for (const ArgInfo *a : toBind)
      if (a->scalesOf.empty() != scalesLast)
        ordered.push_back(a);
  toBind = std::move(ordered);
  for (const ArgInfo *a : toBind) {
    const uint64_t before = progress.parameterBytesDone;
    if (a->quantizedFrom) {
      params[a->name] =
          bindQuantized(*a, *checkpoint, searched, scales[a->name]);
    } else if (!a->scalesOf.empty()) {
      std::unique_ptr<HostTensor> &s = scales[a->scalesOf];
      if (!s) // its quantized parameter belongs to another entry
        bindQuantized(*quantizedParameter(a->scalesOf), *checkpoint, searched,
                      s);
      Parameter p;
      p.data = s->data();
      p.size = *checkedByteSize(a->dtype, a->shape);
      p.owned = std::move(s);
      params[a->name] = std::move(p);
    } else {
      params[a->name] = bindOne(*a, *checkpoint, searched, copied);
    }
    ++progress.parametersDone;
    progress.parameterBytesDone =
        before + checkedByteSize(a->dtype, a->shape).value_or(0);
    report();
  }
  shareIdenticalParameters(toBind, params);
  deviceParameters_.reset(); // stale device copies of the old binding
  parameters_ = std::move(params);
  checkpoint_ = std::move(checkpoint);
}

void Module::shareIdenticalParameters(
    const std::vector<const ArgInfo *> &bound,
    std::map<std::string, Parameter> &params) {
  sharing_.clear();
  for (const ArgInfo *a : bound) {
    if (a->sameAs.empty())
      continue;
    auto other = params.find(a->sameAs);
    if (other == params.end()) // bound for another entry only
      continue;
    Parameter &p = params.at(a->name);
    const Parameter &q = other->second;
    // Reads both tensors once (their pages, if not resident yet).
    const bool identical = p.size == q.size && p.data && q.data &&
                           std::memcmp(p.data, q.data, p.size) == 0;
    if (identical) {
      p.data = q.data;
      p.owned.reset();
      p.sharedWith = a->sameAs;
    }
    sharing_.push_back({a->name, a->sameAs, identical, p.size});
  }
}

namespace {

// "[1, 17]" for a flat element index of a row-major shape.
std::string elementIndex(const std::vector<int64_t> &shape, uint64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    index[i] = static_cast<int64_t>(flat % static_cast<uint64_t>(shape[i]));
    flat /= static_cast<uint64_t>(shape[i]);
  }
  std::string s = "[";
  for (size_t i = 0; i < index.size(); ++i)
    s += (i ? ", " : "") + std::to_string(index[i]);
  return s + "]";
}

} // namespace

std::map<std::string, int64_t>
Module::checkInputs(const EntryInfo &entry,
                    const std::vector<const HostTensor *> &inputs) const {
  std::map<std::string, int64_t> symbols;
  size_t inputCount = 0;
  for (const ArgInfo &a : entry.args)
    inputCount += a.role == DSV3_ROLE_INPUT;
  if (inputs.size() != inputCount)
    fail("entry \"" + entry.name + "\" takes " + std::to_string(inputCount) +
         " input(s), got " + std::to_string(inputs.size()));
  size_t in = 0;
  for (const ArgInfo &a : entry.args) {
    if (a.role != DSV3_ROLE_INPUT)
      continue;
    const HostTensor *t = inputs[in];
    if (!t)
      fail("entry \"" + entry.name + "\": input " + std::to_string(in) +
           " (\"" + a.name + "\") is NULL");
    bool matches = t->dtype == a.dtype && t->shape.size() == a.shape.size();
    for (size_t d = 0; matches && d < a.shape.size(); ++d)
      matches = a.shape[d] == -1 || a.shape[d] == t->shape[d];
    if (!matches)
      fail("entry \"" + entry.name + "\": input " + std::to_string(in) +
           " (\"" + a.name + "\"): expected " + describe(a.dtype, a.shape) +
           ", got " + describe(t->dtype, t->shape));
    if (a.dtype == DType::I1)
      if (std::optional<uint64_t> i =
              findInvalidI1(t->data(), t->elementCount()))
        fail("entry \"" + entry.name + "\": input " + std::to_string(in) +
             " (\"" + a.name + "\")" +
             describeInvalidI1(t->shape, t->data(), *i) +
             "; the call was refused and nothing was written");
    for (const DynamicDim &d : a.dynamicDims) {
      int64_t size = t->shape[d.dim];
      if (size < d.min || size > d.max)
        fail("entry \"" + entry.name + "\": input \"" + a.name +
             "\" dimension " + std::to_string(d.dim) + " (" + d.symbol +
             ") = " + std::to_string(size) + " is outside [" +
             std::to_string(d.min) + ", " + std::to_string(d.max) + "]");
      auto [it, inserted] = symbols.emplace(d.symbol, size);
      if (!inserted && it->second != size)
        fail("entry \"" + entry.name + "\": input \"" + a.name +
             "\" dimension " + std::to_string(d.dim) + " (" + d.symbol +
             ") = " + std::to_string(size) + " but an earlier input has " +
             d.symbol + " = " + std::to_string(it->second));
    }
    ++in;
    if (!a.bounds)
      continue;
    InputBounds b = *a.bounds;
    if (!b.minus.empty()) {
      // max - size: the range the other inputs of this call leave.
      if (__builtin_sub_overflow(b.max, symbols.at(b.minus), &b.max))
        b.max = INT64_MIN; // nothing fits below the smallest int64
      b.why += (b.why.empty() ? "" : "; ") + std::string("with ") + b.minus +
               " = " + std::to_string(symbols.at(b.minus));
    }
    const uint64_t count = t->elementCount();
    for (uint64_t i = 0; i < count; ++i) {
      int64_t v;
      if (a.dtype == DType::I32) {
        int32_t v32;
        std::memcpy(&v32, t->data() + 4 * i, 4);
        v = v32;
      } else {
        std::memcpy(&v, t->data() + 8 * i, 8);
      }
      if (v >= b.min && v <= b.max)
        continue;
      std::string element =
          t->shape.empty() ? "" : " element " + elementIndex(t->shape, i);
      fail("entry \"" + entry.name + "\": input \"" + a.name + "\"" + element +
           " = " + std::to_string(v) + " is outside [" + std::to_string(b.min) +
           ", " + std::to_string(b.max) + "]" +
           (b.why.empty() ? "" : " (" + b.why + ")") +
           "; the call was refused and nothing was written");
    }
  }
  return symbols;
}

std::vector<const uint8_t *>
Module::gatherArgs(const EntryInfo &entry,
                   const std::vector<const HostTensor *> &inputs,
                   std::vector<HostTensor> &outputs,
                   std::vector<std::vector<int64_t>> &shapes) {
  std::map<std::string, int64_t> symbols = checkInputs(entry, inputs);
  for (const ArgInfo &a : entry.args)
    if (a.role == DSV3_ROLE_PARAMETER && !parameters_.count(a.name))
      fail("entry \"" + entry.name + "\" needs parameter \"" + a.name +
           "\" but it is not bound (bind parameters from safetensors "
           "files first)");
  std::vector<const uint8_t *> data;
  shapes.clear();
  size_t in = 0;
  for (const ArgInfo &a : entry.args) {
    shapes.push_back(a.shape);
    for (const DynamicDim &d : a.dynamicDims)
      shapes.back()[d.dim] = symbols.at(d.symbol);
    switch (a.role) {
    case DSV3_ROLE_INPUT:
      shapes.back() = inputs[in]->shape;
      data.push_back(inputs[in++]->data());
      break;
    case DSV3_ROLE_PARAMETER:
      if (a.expertPointers) {
        // memref<E x i64>: the address of each expert's tensor.
        const std::vector<uint64_t> &table = parameters_.at(a.name).table;
        data.push_back(reinterpret_cast<const uint8_t *>(table.data()));
        shapes.back() = {static_cast<int64_t>(table.size())};
        break;
      }
      data.push_back(parameters_.at(a.name).data);
      break;
    case DSV3_ROLE_OUTPUT:
      outputs.emplace_back(a.dtype, shapes.back());
      data.push_back(outputs.back().data());
      break;
    case DSV3_ROLE_STATE:
      data.push_back(device_ == Device::Host
                         ? states_.hostData(states_.get(a.name))
                         : nullptr);
      break;
    }
  }
  return data;
}

std::vector<HostTensor>
Module::call(size_t entryIndex, const std::vector<const HostTensor *> &inputs) {
  if (entryIndex >= metadata_.entries.size())
    fail(path_ + ": entry index " + std::to_string(entryIndex) +
         " out of range (" + std::to_string(metadata_.entries.size()) +
         " entries)");
  const EntryInfo &entry = metadata_.entries[entryIndex];
  if (device_ == Device::Cuda)
    return callCuda(entry, entryFns_[entryIndex], inputs);

  std::vector<HostTensor> outputs;
  size_t outputCount = 0;
  for (const ArgInfo &a : entry.args)
    outputCount += a.role == DSV3_ROLE_OUTPUT;
  outputs.reserve(outputCount); // pointers into outputs must stay valid
  std::vector<std::vector<int64_t>> shapes;
  std::vector<const uint8_t *> data =
      gatherArgs(entry, inputs, outputs, shapes);
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> args;
  for (size_t i = 0; i < entry.args.size(); ++i)
    descriptors.push_back(makeDescriptor(data[i], shapes[i]));
  for (std::vector<int64_t> &d : descriptors)
    args.push_back(d.data());
  // Per call: the OpenMP setting belongs to the calling thread, and
  // sessions on other threads may want other counts.
  if (ompSetNumThreads_ && states_.threads() > 0)
    ompSetNumThreads_(states_.threads());
  callModule(entryFns_[entryIndex], args.data(),
             "entry \"" + entry.name + "\"");
  return outputs;
}

} // namespace dsv3rt::impl
