// The mgpu* functions that MLIR's GPU-to-LLVM lowering calls, implemented on
// the dlopen'ed driver. Same C signatures as upstream's
// CudaRuntimeWrappers.cpp, but they never abort: a failure is recorded (see
// cuda::recordError) and the function returns NULL or does nothing, so a
// module can even be dlopen'ed on a machine without a GPU.
#include "dsv3/Runtime/mgpu.h"

#include "CudaDriver.h"
#include "DevicePool.h"
#include "KernelProfile.h"
#include "ModuleCall.h"

using namespace dsv3rt::cuda;
using dsv3rt::impl::currentCallPool;
using dsv3rt::impl::currentCallProfile;
using dsv3rt::impl::DevicePool;
using dsv3rt::impl::KernelProfile;
using dsv3rt::impl::moduleAllocationFailed;
using dsv3rt::impl::trackModuleBuffer;
using dsv3rt::impl::untrackModuleBuffer;

namespace {

// Upstream's limit above which a kernel must opt in to more dynamic shared
// memory.
constexpr int32_t kDefaultMaxSharedBytes = 48 * 1024;

const Driver *driverOrRecord() {
  std::string why;
  const Driver *d = driver(&why);
  if (!d)
    recordError("no CUDA device: " + why);
  return d;
}

// Runs body with the primary context current; swallows every exception so
// none crosses the C boundary into module code.
template <typename R, typename F> R guarded(R onError, F body) {
  try {
    const Driver *d = driverOrRecord();
    if (!d)
      return onError;
    ScopedContext ctx(*d);
    return body(*d);
  } catch (...) {
    recordError("internal error in an mgpu function");
    return onError;
  }
}

CUdeviceptr dptr(void *p) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}

} // namespace

extern "C" {

void *mgpuModuleLoad(void *data, int64_t size) {
  (void)size; // a fatbin/cubin carries its own size
  return guarded<void *>(nullptr, [&](const Driver &d) -> void * {
    CUmodule m = nullptr;
    return check(d.cuModuleLoadData(&m, data), "cuModuleLoadData") ? m
                                                                   : nullptr;
  });
}

void *mgpuModuleLoadJIT(void *ptx, int32_t optLevel) {
  return guarded<void *>(nullptr, [&](const Driver &d) -> void * {
    CUmodule m = nullptr;
    CUjit_option opts[] = {CU_JIT_OPTIMIZATION_LEVEL};
    void *values[] = {
        reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
    return check(d.cuModuleLoadDataEx(&m, ptx, 1, opts, values),
                 "cuModuleLoadDataEx")
               ? m
               : nullptr;
  });
}

void mgpuModuleUnload(void *module) {
  if (!module)
    return; // a failed load already recorded its error
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuModuleUnload(static_cast<CUmodule>(module)), "cuModuleUnload");
    return 0;
  });
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  if (!module) {
    driverOrRecord();
    recordError(std::string("mgpuModuleGetFunction(") + (name ? name : "") +
                "): module failed to load");
    return nullptr;
  }
  return guarded<void *>(nullptr, [&](const Driver &d) -> void * {
    CUfunction f = nullptr;
    if (!check(d.cuModuleGetFunction(&f, static_cast<CUmodule>(module), name),
               "cuModuleGetFunction"))
      return nullptr;
    dsv3rt::impl::rememberFunctionName(f, name); // for kernel profiles
    return f;
  });
}

void mgpuLaunchKernel(void *fn, int64_t gx, int64_t gy, int64_t gz, int64_t bx,
                      int64_t by, int64_t bz, int32_t smem, void *stream,
                      void **params, void **extra, int64_t nparams) {
  (void)nparams;
  if (!fn) {
    driverOrRecord();
    recordError("mgpuLaunchKernel: no function (its module failed to load)");
    return;
  }
  // An empty grid (a kernel over a prompt of zero tokens) has nothing to
  // run; the driver would refuse it. A negative extent is a compiler bug.
  if (gx < 0 || gy < 0 || gz < 0) {
    recordError("mgpuLaunchKernel: negative grid extent");
    return;
  }
  if (gx == 0 || gy == 0 || gz == 0)
    return;
  guarded<int>(0, [&](const Driver &d) {
    CUfunction f = static_cast<CUfunction>(fn);
    if (smem > kDefaultMaxSharedBytes &&
        !check(d.cuFuncSetAttribute(
                   f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem),
               "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)"))
      return 0;
    auto launch = [&] {
      check(d.cuLaunchKernel(
                f, static_cast<unsigned>(gx), static_cast<unsigned>(gy),
                static_cast<unsigned>(gz), static_cast<unsigned>(bx),
                static_cast<unsigned>(by), static_cast<unsigned>(bz),
                static_cast<unsigned>(smem), static_cast<CUstream>(stream),
                params, extra),
            "cuLaunchKernel");
    };
    if (KernelProfile *profile = currentCallProfile())
      profile->profileLaunch(d, f, static_cast<CUstream>(stream), launch);
    else
      launch();
    return 0;
  });
}

void *mgpuStreamCreate(void) {
  return guarded<void *>(nullptr, [&](const Driver &d) -> void * {
    // During a call: the session's stream (DevicePool::stream).
    if (DevicePool *pool = currentCallPool())
      return pool->stream(d);
    CUstream s = nullptr;
    return check(d.cuStreamCreate(&s, 0), "cuStreamCreate") ? s : nullptr;
  });
}

void mgpuStreamSynchronize(void *stream) {
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuStreamSynchronize(static_cast<CUstream>(stream)),
          "cuStreamSynchronize");
    return 0;
  });
}

void mgpuStreamDestroy(void *stream) {
  if (!stream)
    return;
  // The session's stream outlives the call.
  if (DevicePool *pool = currentCallPool();
      pool && pool->isStream(static_cast<CUstream>(stream)))
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuStreamDestroy(static_cast<CUstream>(stream)), "cuStreamDestroy");
    return 0;
  });
}

void *mgpuEventCreate(void) {
  return guarded<void *>(nullptr, [&](const Driver &d) -> void * {
    CUevent e = nullptr;
    return check(d.cuEventCreate(&e, 0), "cuEventCreate") ? e : nullptr;
  });
}

void mgpuEventDestroy(void *event) {
  if (!event)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuEventDestroy(static_cast<CUevent>(event)), "cuEventDestroy");
    return 0;
  });
}

void mgpuEventSynchronize(void *event) {
  if (!event)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuEventSynchronize(static_cast<CUevent>(event)),
          "cuEventSynchronize");
    return 0;
  });
}

void mgpuEventRecord(void *event, void *stream) {
  if (!event)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuEventRecord(static_cast<CUevent>(event),
                          static_cast<CUstream>(stream)),
          "cuEventRecord");
    return 0;
  });
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  if (!event)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuStreamWaitEvent(static_cast<CUstream>(stream),
                              static_cast<CUevent>(event), 0),
          "cuStreamWaitEvent");
    return 0;
  });
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared) {
  if (bytes == 0)
    return nullptr;
  void *p = guarded<void *>(nullptr, [&](const Driver &d) -> void * {
    CUdeviceptr p = 0;
    // Inside a call, device buffers come from the session's pool: no driver
    // allocation once the call's sizes have been seen.
    DevicePool *pool = currentCallPool();
    if (pool && !hostShared) {
      p = pool->allocate(d, bytes, static_cast<CUstream>(stream));
      return p ? reinterpret_cast<void *>(static_cast<uintptr_t>(p)) : nullptr;
    }
    bool ok = hostShared
                  ? check(d.cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL),
                          "cuMemAllocManaged")
                  : check(d.cuMemAlloc(&p, bytes), "cuMemAlloc");
    return ok ? reinterpret_cast<void *>(static_cast<uintptr_t>(p)) : nullptr;
  });
  // Inside an entry call a failure ends the call (kernels must not run on
  // NULL) and a success is freed with the call's other buffers if a later
  // allocation fails.
  if (!p)
    moduleAllocationFailed(bytes, "device memory");
  trackModuleBuffer(p, [](void *q) { mgpuMemFree(q, nullptr); });
  return p;
}

void mgpuMemFree(void *ptr, void *stream) {
  if (!ptr)
    return;
  untrackModuleBuffer(ptr);
  DevicePool *pool = currentCallPool();
  if (pool && pool->owns(dptr(ptr))) {
    pool->release(dptr(ptr), static_cast<CUstream>(stream));
    return;
  }
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuMemFree(dptr(ptr)), "cuMemFree");
    return 0;
  });
}

void mgpuMemcpy(void *dst, void *src, uint64_t bytes, void *stream) {
  if (bytes == 0)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuMemcpyAsync(dptr(dst), dptr(src), bytes,
                          static_cast<CUstream>(stream)),
          "cuMemcpyAsync");
    return 0;
  });
}

void mgpuMemset32(void *dst, uint32_t value, uint64_t count, void *stream) {
  if (count == 0)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuMemsetD32Async(dptr(dst), value, count,
                             static_cast<CUstream>(stream)),
          "cuMemsetD32Async");
    return 0;
  });
}

void mgpuMemset16(void *dst, uint16_t value, uint64_t count, void *stream) {
  if (count == 0)
    return;
  guarded<int>(0, [&](const Driver &d) {
    check(d.cuMemsetD16Async(dptr(dst), value, count,
                             static_cast<CUstream>(stream)),
          "cuMemsetD16Async");
    return 0;
  });
}

} // extern "C"
