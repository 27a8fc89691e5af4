// The CUDA driver API, loaded with dlopen at first use so that libdsv3rt has
// no link-time dependency on libcuda and works (for host modules, and with a
// clean error for cuda ones) on machines without a GPU.
//
// Only the handful of driver types the runtime needs are declared here; the
// toolkit headers are deliberately not included.
#ifndef DSV3_LIB_RUNTIME_CUDADRIVER_H
#define DSV3_LIB_RUNTIME_CUDADRIVER_H

#include <cstddef>
#include <string>

namespace dsv3rt::cuda {

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef int CUjit_option;

constexpr CUresult CUDA_SUCCESS = 0;
constexpr int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr CUjit_option CU_JIT_OPTIMIZATION_LEVEL = 7;
constexpr unsigned CU_MEM_ATTACH_GLOBAL = 1;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxPushCurrent)(CUcontext);
  CUresult (*cuCtxPopCurrent)(CUcontext *);
  CUresult (*cuCtxSynchronize)(void);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned,
                                 CUjit_option *, void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuGetErrorName)(CUresult, const char **);

  CUdevice device = 0;
  CUcontext context = nullptr;
};

// Loads libcuda (or $DSV3_LIBCUDA) once per process, initialises it and
// retains device 0's primary context. Returns nullptr if any step fails;
// then *whyNot (if given) holds the reason, e.g. "cuInit failed:
// CUDA_ERROR_STUB_LIBRARY (error 34: ...)". Thread-safe.
const Driver *driver(std::string *whyNot = nullptr);

// "NAME (error N: description)" for a driver result; safe without a driver.
std::string errorString(CUresult result);

// The first driver error since the last takeError(), process-wide and
// thread-safe: mgpu* functions cannot return errors, so they record here and
// the runtime reports after the entry returns.
void recordError(const std::string &message);
// Returns and clears the recorded error ("" if none).
std::string takeError();

// Checks a driver result; records and returns false on failure.
bool check(CUresult result, const char *what);

// Makes the primary context current for the scope (the calling thread may
// have none, e.g. a module's global constructor).
class ScopedContext {
public:
  explicit ScopedContext(const Driver &d);
  ~ScopedContext();

private:
  const Driver &driver_;
  bool pushed_;
};

} // namespace dsv3rt::cuda

#endif // DSV3_LIB_RUNTIME_CUDADRIVER_H
