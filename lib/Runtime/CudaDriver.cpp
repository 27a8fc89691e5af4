#include "CudaDriver.h"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>

namespace dsv3rt::cuda {

namespace {

struct State {
  std::once_flag once;
  Driver driver{};
  bool ok = false;
  std::string whyNot;
};

State &state() {
  static State s;
  return s;
}

std::mutex &errorMutex() {
  static std::mutex m;
  return m;
}

std::string &errorSlot() {
  static std::string s;
  return s;
}

// Loaded into a separate table so errorString() works even when init failed
// after dlopen (e.g. the stub library's cuInit).
struct ErrorFns {
  CUresult (*name)(CUresult, const char **) = nullptr;
  CUresult (*str)(CUresult, const char **) = nullptr;
} errorFns;

template <typename F>
bool resolve(void *lib, const char *name, F &out, std::string &whyNot) {
  out = reinterpret_cast<F>(dlsym(lib, name));
  if (!out && whyNot.empty())
    whyNot = std::string("driver library lacks symbol ") + name;
  return out != nullptr;
}

void initialize(State &s) {
  const char *env = std::getenv("DSV3_LIBCUDA");
  std::string path = env && *env ? env : "libcuda.so.1";
  // RTLD_LOCAL: the driver's symbols must not leak into the modules' scope.
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    s.whyNot = "cannot load " + path + ": " + (e ? e : "unknown dlopen error");
    return;
  }
  Driver &d = s.driver;
  std::string why;
  errorFns.name =
      reinterpret_cast<decltype(errorFns.name)>(dlsym(lib, "cuGetErrorName"));
  errorFns.str =
      reinterpret_cast<decltype(errorFns.str)>(dlsym(lib, "cuGetErrorString"));
  bool all = true;
#define DSV3_RESOLVE(field, sym) all &= resolve(lib, sym, d.field, why)
  DSV3_RESOLVE(cuInit, "cuInit");
  DSV3_RESOLVE(cuDeviceGetCount, "cuDeviceGetCount");
  DSV3_RESOLVE(cuDeviceGet, "cuDeviceGet");
  DSV3_RESOLVE(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  DSV3_RESOLVE(cuCtxPushCurrent, "cuCtxPushCurrent_v2");
  DSV3_RESOLVE(cuCtxPopCurrent, "cuCtxPopCurrent_v2");
  DSV3_RESOLVE(cuCtxSynchronize, "cuCtxSynchronize");
  DSV3_RESOLVE(cuModuleLoadData, "cuModuleLoadData");
  DSV3_RESOLVE(cuModuleLoadDataEx, "cuModuleLoadDataEx");
  DSV3_RESOLVE(cuModuleUnload, "cuModuleUnload");
  DSV3_RESOLVE(cuModuleGetFunction, "cuModuleGetFunction");
  DSV3_RESOLVE(cuFuncSetAttribute, "cuFuncSetAttribute");
  DSV3_RESOLVE(cuLaunchKernel, "cuLaunchKernel");
  DSV3_RESOLVE(cuStreamCreate, "cuStreamCreate");
  DSV3_RESOLVE(cuStreamSynchronize, "cuStreamSynchronize");
  DSV3_RESOLVE(cuStreamDestroy, "cuStreamDestroy_v2");
  DSV3_RESOLVE(cuStreamWaitEvent, "cuStreamWaitEvent");
  DSV3_RESOLVE(cuEventCreate, "cuEventCreate");
  DSV3_RESOLVE(cuEventRecord, "cuEventRecord");
  DSV3_RESOLVE(cuEventSynchronize, "cuEventSynchronize");
  DSV3_RESOLVE(cuEventDestroy, "cuEventDestroy_v2");
  DSV3_RESOLVE(cuEventElapsedTime, "cuEventElapsedTime");
  DSV3_RESOLVE(cuMemAlloc, "cuMemAlloc_v2");
  DSV3_RESOLVE(cuMemAllocManaged, "cuMemAllocManaged");
  DSV3_RESOLVE(cuMemFree, "cuMemFree_v2");
  DSV3_RESOLVE(cuMemcpy, "cuMemcpy");
  DSV3_RESOLVE(cuMemcpyHtoD, "cuMemcpyHtoD_v2");
  DSV3_RESOLVE(cuMemcpyDtoH, "cuMemcpyDtoH_v2");
  DSV3_RESOLVE(cuMemcpyAsync, "cuMemcpyAsync");
  DSV3_RESOLVE(cuMemsetD8, "cuMemsetD8_v2");
  DSV3_RESOLVE(cuMemsetD32Async, "cuMemsetD32Async");
  DSV3_RESOLVE(cuMemsetD16Async, "cuMemsetD16Async");
  DSV3_RESOLVE(cuGetErrorString, "cuGetErrorString");
  DSV3_RESOLVE(cuGetErrorName, "cuGetErrorName");
#undef DSV3_RESOLVE
  if (!all) {
    s.whyNot = path + ": " + why;
    return; // the library stays loaded; unloading a driver is never safe
  }
  CUresult r = d.cuInit(0);
  if (r != CUDA_SUCCESS) {
    s.whyNot = "cuInit failed: " + errorString(r);
    return;
  }
  int count = 0;
  r = d.cuDeviceGetCount(&count);
  if (r != CUDA_SUCCESS) {
    s.whyNot = "cuDeviceGetCount failed: " + errorString(r);
    return;
  }
  if (count < 1) {
    s.whyNot = "the driver reports 0 devices";
    return;
  }
  r = d.cuDeviceGet(&d.device, 0);
  if (r == CUDA_SUCCESS)
    r = d.cuDevicePrimaryCtxRetain(&d.context, d.device);
  if (r != CUDA_SUCCESS) {
    s.whyNot =
        "cannot retain the primary context of device 0: " + errorString(r);
    return;
  }
  s.ok = true;
}

} // namespace

const Driver *driver(std::string *whyNot) {
  State &s = state();
  std::call_once(s.once, [&] {
    try {
      initialize(s);
    } catch (...) {
      s.ok = false;
      s.whyNot = "unexpected failure while loading the CUDA driver";
    }
  });
  if (!s.ok && whyNot)
    *whyNot = s.whyNot;
  return s.ok ? &s.driver : nullptr;
}

std::string errorString(CUresult result) {
  const char *name = nullptr, *desc = nullptr;
  if (errorFns.name && errorFns.name(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (errorFns.str && errorFns.str(result, &desc) != CUDA_SUCCESS)
    desc = nullptr;
  // Always include the number: stub and old drivers may lack the name.
  std::string s = name ? std::string(name) + " (error " : "CUDA error (error ";
  s += std::to_string(result);
  if (desc)
    s += std::string(": ") + desc;
  s += ")";
  return s;
}

void recordError(const std::string &message) {
  std::lock_guard<std::mutex> lock(errorMutex());
  if (errorSlot().empty())
    errorSlot() = message;
}

std::string takeError() {
  std::lock_guard<std::mutex> lock(errorMutex());
  std::string s;
  s.swap(errorSlot());
  return s;
}

bool check(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return true;
  recordError(std::string(what) + " failed: " + errorString(result));
  return false;
}

ScopedContext::ScopedContext(const Driver &d)
    : driver_(d),
      pushed_(check(d.cuCtxPushCurrent(d.context), "cuCtxPushCurrent")) {}

ScopedContext::~ScopedContext() {
  if (pushed_) {
    CUcontext dummy = nullptr;
    check(driver_.cuCtxPopCurrent(&dummy), "cuCtxPopCurrent");
  }
}

} // namespace dsv3rt::cuda
