// The cuda half of Module::call: check for a device, upload parameters once,
// copy inputs in, run the entry with device pointers (state args point to the
// session's device buffers), copy outputs out: copies and kernels in order on
// the session's stream, one synchronize at the end.
#include "CudaCall.h"

#include "Error.h"
#include "Module.h"
#include "ModuleCall.h"

namespace dsv3rt::impl {

using namespace cuda;

namespace {

// A block of the session's pool for work on `stream`, given back on scope
// exit (the caller holds the context).
class PoolBuffer {
public:
  PoolBuffer(DevicePool &pool, const Driver &d, uint64_t bytes, CUstream stream)
      : pool_(pool), stream_(stream) {
    ptr_ = pool.allocate(d, bytes, stream);
    if (!ptr_)
      fail("allocating " + std::to_string(bytes) +
           " bytes of device memory failed: " + takeError());
  }
  ~PoolBuffer() { pool_.release(ptr_, stream_); }
  PoolBuffer(const PoolBuffer &) = delete;
  PoolBuffer &operator=(const PoolBuffer &) = delete;
  CUdeviceptr get() const { return ptr_; }

private:
  DevicePool &pool_;
  CUstream stream_;
  CUdeviceptr ptr_ = 0;
};

// A device allocation freed on scope exit (the caller holds the context).
class DeviceBuffer {
public:
  DeviceBuffer(const Driver &d, uint64_t bytes) : driver_(d) {
    // Zero-size tensors still get a distinct, valid pointer.
    CUresult r = d.cuMemAlloc(&ptr_, bytes ? bytes : 64);
    if (r != CUDA_SUCCESS)
      fail("cuMemAlloc of " + std::to_string(bytes) +
           " bytes failed: " + errorString(r));
  }
  ~DeviceBuffer() {
    if (ptr_)
      driver_.cuMemFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  CUdeviceptr get() const { return ptr_; }
  CUdeviceptr release() {
    CUdeviceptr p = ptr_;
    ptr_ = 0;
    return p;
  }

private:
  const Driver &driver_;
  CUdeviceptr ptr_ = 0;
};

void checkOrThrow(CUresult r, const std::string &what) {
  if (r != CUDA_SUCCESS)
    fail(what + " failed: " + errorString(r));
}

void *asPointer(CUdeviceptr p) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

} // namespace

DeviceParameters::~DeviceParameters() {
  ScopedContext ctx(driver);
  for (auto &[name, ptr] : buffers)
    driver.cuMemFree(ptr);
  takeError(); // a failing free at teardown has nobody to report to
}

std::vector<HostTensor>
Module::callCuda(const EntryInfo &entry, dsv3_entry_fn fn,
                 const std::vector<const HostTensor *> &inputs) {
  std::string why;
  const Driver *d = driver(&why);
  if (!d)
    fail("no CUDA device: " + why);
  ScopedContext ctx(*d);
  takeError();

  // Validate everything on the host before touching device memory.
  std::vector<HostTensor> outputs;
  size_t outputCount = 0;
  for (const ArgInfo &a : entry.args)
    outputCount += a.role == DSV3_ROLE_OUTPUT;
  outputs.reserve(outputCount);
  std::vector<std::vector<int64_t>> shapes;
  std::vector<const uint8_t *> hostData =
      gatherArgs(entry, inputs, outputs, shapes);

  if (!deviceParameters_) {
    auto params = std::make_unique<DeviceParameters>(*d);
    for (auto &[name, p] : parameters_) {
      if (!p.sharedWith.empty())
        continue; // the other's device copy, below
      DeviceBuffer buf(*d, p.size);
      if (p.size && p.data)
        checkOrThrow(d->cuMemcpyHtoD(buf.get(), p.data, p.size),
                     "uploading parameter \"" + name + "\"");
      else if (p.size) // a stacked parameter's experts, each where it lies
        for (size_t e = 0; e < p.experts.size(); ++e)
          checkOrThrow(d->cuMemcpyHtoD(buf.get() + e * p.bytesPerExpert,
                                       p.experts[e], p.bytesPerExpert),
                       "uploading expert " + std::to_string(e) +
                           " of parameter \"" + name + "\"");
      params->buffers[name] = buf.release();
    }
    for (auto &[name, p] : parameters_)
      if (!p.sharedWith.empty())
        params->aliases[name] = params->buffers.at(p.sharedWith);
    deviceParameters_ = std::move(params);
  }

  // Blocks given back by a call that failed may still be in use until the
  // device has caught up.
  DevicePool &pool = states_.devicePool();
  if (pool.hasPending() && d->cuCtxSynchronize() == CUDA_SUCCESS)
    pool.synchronized();
  // Inputs are copied on the session's stream, which the module's kernels
  // run on too (mgpuStreamCreate), so the copies need no wait of their own;
  // the host data stays alive until the call has synchronized.
  CUstream stream = pool.stream(*d);
  if (!stream)
    fail("creating the session's stream failed: " + takeError());
  std::vector<std::unique_ptr<PoolBuffer>> temporaries;
  std::vector<CUdeviceptr> devicePtrs;
  size_t out = 0;
  for (size_t i = 0; i < entry.args.size(); ++i) {
    const ArgInfo &a = entry.args[i];
    if (a.role == DSV3_ROLE_PARAMETER) {
      auto alias = deviceParameters_->aliases.find(a.name);
      devicePtrs.push_back(alias != deviceParameters_->aliases.end()
                               ? alias->second
                               : deviceParameters_->buffers.at(a.name));
      continue;
    }
    if (a.role == DSV3_ROLE_STATE) {
      // Shared by the session's modules; allocated zeroed on first use.
      devicePtrs.push_back(states_.deviceData(states_.get(a.name), *d));
      continue;
    }
    uint64_t bytes = *checkedByteSize(a.dtype, shapes[i]);
    temporaries.push_back(
        std::make_unique<PoolBuffer>(pool, *d, bytes, stream));
    if (a.role == DSV3_ROLE_INPUT && bytes)
      checkOrThrow(
          d->cuMemcpyAsync(temporaries.back()->get(),
                           static_cast<CUdeviceptr>(
                               reinterpret_cast<uintptr_t>(hostData[i])),
                           bytes, stream),
          "copying input \"" + a.name + "\" to the device");
    devicePtrs.push_back(temporaries.back()->get());
  }

  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> args;
  for (size_t i = 0; i < entry.args.size(); ++i)
    descriptors.push_back(makeDescriptor(asPointer(devicePtrs[i]), shapes[i]));
  for (std::vector<int64_t> &desc : descriptors)
    args.push_back(desc.data());
  // A profiling session times every launch of the call (KernelProfile); the
  // guard drops the launches' events if the call fails.
  KernelProfile &profile = states_.kernelProfile();
  struct ProfileScope {
    KernelProfile *profile;
    const Driver &d;
    bool collected = false;
    ~ProfileScope() {
      currentCallProfile() = nullptr;
      if (profile && !collected)
        profile->collect(d, /*synchronized=*/false);
    }
  } profileScope{profile.enabled() ? &profile : nullptr, *d};
  currentCallProfile() = profileScope.profile;
  {
    // The module's own buffers (mgpuMemAlloc) come from the pool too.
    ScopedCallPool scope(pool);
    callModule(fn, args.data(), "entry \"" + entry.name + "\"");
  }
  currentCallProfile() = nullptr;
  // The outputs come back on the session's stream, after the kernels; the
  // synchronize below waits for them too. A failed copy is reported after
  // the module's own errors.
  CUresult copied = CUDA_SUCCESS;
  std::string failedOutput;
  for (size_t i = 0; i < entry.args.size(); ++i) {
    const ArgInfo &a = entry.args[i];
    if (a.role != DSV3_ROLE_OUTPUT)
      continue;
    HostTensor &t = outputs[out++];
    if (!t.byteSize() || copied != CUDA_SUCCESS)
      continue;
    copied = d->cuMemcpyAsync(
        static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(t.data())),
        devicePtrs[i], t.byteSize(), stream);
    if (copied != CUDA_SUCCESS)
      failedOutput = a.name;
  }
  // Entries may leave work queued on streams of their own.
  CUresult sync = d->cuCtxSynchronize();
  if (profileScope.profile) {
    profile.collect(*d, sync == CUDA_SUCCESS);
    profileScope.collected = true;
  }
  std::string error = takeError();
  if (!error.empty())
    fail("entry \"" + entry.name + "\" failed: " + error);
  checkOrThrow(sync, "entry \"" + entry.name + "\": cuCtxSynchronize");
  checkOrThrow(copied,
               "copying output \"" + failedOutput + "\" from the device");
  // Synchronized: nothing of this call is in flight, and its blocks may
  // serve any stream of the next call.
  temporaries.clear();
  pool.synchronized();
  return outputs;
}

} // namespace dsv3rt::impl
