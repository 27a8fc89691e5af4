#include "Module.h"

#include "CudaCall.h"
#include "CudaDriver.h"
#include "Error.h"

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

// dlerror() text for the last dl* failure.
std::string dlError() {
  const char *e = dlerror();
  return e ? e : "unknown error";
}

} // namespace

Module::Module(Device device, const std::string &path)
    : device_(device), path_(path) {
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
    if (metadata_.target != deviceName(device))
      fail(path + ": module targets \"" + metadata_.target +
           "\" but the session device is \"" + deviceName(device) + "\"");
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
  } catch (...) {
    dlclose(handle_);
    throw;
  }
}

Module::~Module() {
  deviceParameters_.reset(); // before dlclose: frees need the driver only
  files_.clear();
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
  std::map<std::string, std::pair<const ArgInfo *, const EntryInfo *>> seen;
  for (const EntryInfo &e : metadata_.entries)
    for (const ArgInfo &a : e.args) {
      if (a.role != DSV3_ROLE_PARAMETER)
        continue;
      auto [it, inserted] = seen.insert({a.name, {&a, &e}});
      const ArgInfo &prev = *it->second.first;
      if (!inserted && (prev.dtype != a.dtype || prev.shape != a.shape))
        fail(path_ + ": invalid metadata: parameter \"" + a.name + "\" is " +
             describe(prev.dtype, prev.shape) + " in entry \"" +
             it->second.second->name + "\" but " + describe(a.dtype, a.shape) +
             " in entry \"" + e.name + "\"");
    }
}

void Module::bindParameters(const std::vector<std::string> &paths,
                            std::optional<size_t> onlyEntry) {
  if (onlyEntry && *onlyEntry >= metadata_.entries.size())
    fail(path_ + ": entry index " + std::to_string(*onlyEntry) +
         " out of range");
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, std::pair<const SafetensorsTensor *, std::string>>
      index;
  std::string searched;
  for (const std::string &p : paths) {
    files.push_back(std::make_unique<SafetensorsFile>(p));
    searched += (searched.empty() ? "" : ", ") + p;
    for (const SafetensorsTensor &t : files.back()->tensors()) {
      auto [it, inserted] = index.insert({t.name, {&t, p}});
      if (!inserted)
        fail("parameter \"" + t.name + "\" is in both " + it->second.second +
             " and " + p);
    }
  }
  std::map<std::string, Parameter> params;
  for (size_t ei = 0; ei < metadata_.entries.size(); ++ei) {
    if (onlyEntry && ei != *onlyEntry)
      continue;
    for (const ArgInfo &a : metadata_.entries[ei].args) {
      if (a.role != DSV3_ROLE_PARAMETER || params.count(a.name))
        continue;
      auto it = index.find(a.name);
      if (it == index.end())
        fail(path_ + ": missing parameter \"" + a.name + "\" (searched: " +
             (searched.empty() ? "no files" : searched) + ")");
      const SafetensorsTensor &t = *it->second.first;
      if (t.dtype != a.dtype || t.shape != a.shape)
        fail(path_ + ": parameter \"" + a.name + "\" in " + it->second.second +
             ": expected " + describe(a.dtype, a.shape) + ", found " +
             describe(t.dtype, t.shape));
      Parameter &p = params[a.name];
      p.data = t.data;
      p.size = t.size;
      // Modules may load elements with natural alignment; the mapping only
      // guarantees what the file's offsets happen to give.
      if (reinterpret_cast<uintptr_t>(t.data) % dtypeSize(t.dtype) != 0) {
        p.aligned = std::make_unique<HostTensor>(t.dtype, t.shape);
        std::memcpy(p.aligned->data(), t.data, t.size);
        p.data = p.aligned->data();
      }
    }
  }
  deviceParameters_.reset(); // stale device copies of the old binding
  parameters_ = std::move(params);
  files_ = std::move(files);
}

std::vector<const uint8_t *>
Module::gatherArgs(const EntryInfo &entry,
                   const std::vector<const HostTensor *> &inputs,
                   std::vector<HostTensor> &outputs) {
  size_t inputCount = 0;
  for (const ArgInfo &a : entry.args)
    inputCount += a.role == DSV3_ROLE_INPUT;
  if (inputs.size() != inputCount)
    fail("entry \"" + entry.name + "\" takes " + std::to_string(inputCount) +
         " input(s), got " + std::to_string(inputs.size()));
  std::vector<const uint8_t *> data;
  size_t in = 0;
  for (const ArgInfo &a : entry.args) {
    switch (a.role) {
    case DSV3_ROLE_INPUT: {
      const HostTensor *t = inputs[in];
      if (!t)
        fail("entry \"" + entry.name + "\": input " + std::to_string(in) +
             " (\"" + a.name + "\") is NULL");
      if (t->dtype != a.dtype || t->shape != a.shape)
        fail("entry \"" + entry.name + "\": input " + std::to_string(in) +
             " (\"" + a.name + "\"): expected " + describe(a.dtype, a.shape) +
             ", got " + describe(t->dtype, t->shape));
      data.push_back(t->data());
      ++in;
      break;
    }
    case DSV3_ROLE_PARAMETER: {
      auto it = parameters_.find(a.name);
      if (it == parameters_.end())
        fail("entry \"" + entry.name + "\" needs parameter \"" + a.name +
             "\" but it is not bound (bind parameters from safetensors "
             "files first)");
      data.push_back(it->second.data);
      break;
    }
    case DSV3_ROLE_OUTPUT:
      outputs.emplace_back(a.dtype, a.shape);
      data.push_back(outputs.back().data());
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
  std::vector<const uint8_t *> data = gatherArgs(entry, inputs, outputs);
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> args;
  for (size_t i = 0; i < entry.args.size(); ++i)
    descriptors.push_back(makeDescriptor(data[i], entry.args[i].shape));
  for (std::vector<int64_t> &d : descriptors)
    args.push_back(d.data());
  entryFns_[entryIndex](args.data());
  return outputs;
}

} // namespace dsv3rt::impl
