/* A stand-in for libcuda.so.1 that "runs" on host memory, so the runtime's
 * cuda path (device checks, parameter upload, state buffers, copies, frees)
 * can be tested on machines without a GPU: point DSV3_LIBCUDA at it. Device
 * pointers are malloc'ed host pointers; kernels launch as no-ops. Fresh
 * allocations are filled with 0xA5 (real device memory is not zeroed),
 * fake_cuda_live_allocations counts what is not freed yet and
 * fake_cuda_alloc_calls every allocation made. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

EXPORT int64_t fake_cuda_live_allocations = 0;
/* cuMemAlloc calls that succeeded, ever: what a caching allocator saves. */
EXPORT int64_t fake_cuda_alloc_calls = 0;

static char handles[8]; /* distinct non-NULL dummies for opaque handles */
#define HANDLE(i) ((void *)&handles[i])

EXPORT CUresult cuInit(unsigned flags) { return flags ? 1 : 0; }
EXPORT CUresult cuDeviceGetCount(int *n) { return *n = 1, 0; }
EXPORT CUresult cuDeviceGet(int *d, int ordinal) { return *d = ordinal, 0; }
EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) {
  (void)d;
  return *ctx = HANDLE(0), 0;
}
EXPORT CUresult cuCtxPushCurrent_v2(void *ctx) { return ctx ? 0 : 201; }
EXPORT CUresult cuCtxPopCurrent_v2(void **ctx) { return *ctx = HANDLE(0), 0; }
EXPORT CUresult cuCtxSynchronize(void) { return 0; }
EXPORT CUresult cuModuleLoadData(void **m, const void *image) {
  (void)image;
  return *m = HANDLE(1), 0;
}
EXPORT CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n,
                                   void *options, void **values) {
  (void)image, (void)n, (void)options, (void)values;
  return *m = HANDLE(1), 0;
}
EXPORT CUresult cuModuleUnload(void *m) { return m ? 0 : 400; }
EXPORT CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  (void)m, (void)name;
  return *f = HANDLE(2), 0;
}
EXPORT CUresult cuFuncSetAttribute(void *f, int attr, int value) {
  (void)f, (void)attr, (void)value;
  return 0;
}
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                               unsigned bx, unsigned by, unsigned bz,
                               unsigned smem, void *stream, void **params,
                               void **extra) {
  (void)f, (void)smem, (void)stream, (void)params, (void)extra;
  /* As the driver does: an empty grid or block is CUDA_ERROR_INVALID_VALUE. */
  if (!gx || !gy || !gz || !bx || !by || !bz)
    return 1;
  return 0;
}
/* Streams created, ever, and not destroyed yet. */
EXPORT int64_t fake_cuda_stream_creates = 0;
EXPORT int64_t fake_cuda_live_streams = 0;
EXPORT CUresult cuStreamCreate(void **s, unsigned flags) {
  (void)flags;
  ++fake_cuda_stream_creates;
  ++fake_cuda_live_streams;
  return *s = HANDLE(3), 0;
}
EXPORT CUresult cuStreamSynchronize(void *s) { return (void)s, 0; }
EXPORT CUresult cuStreamDestroy_v2(void *s) {
  --fake_cuda_live_streams;
  return (void)s, 0;
}
EXPORT CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) {
  (void)s, (void)e, (void)flags;
  return 0;
}
EXPORT CUresult cuEventCreate(void **e, unsigned flags) {
  (void)flags;
  return *e = HANDLE(4), 0;
}
EXPORT CUresult cuEventRecord(void *e, void *s) { return (void)e, (void)s, 0; }
EXPORT CUresult cuEventSynchronize(void *e) { return (void)e, 0; }
EXPORT CUresult cuEventDestroy_v2(void *e) { return (void)e, 0; }
/* Every timed launch "takes" 0.25 ms. */
EXPORT CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
  (void)start, (void)end;
  return *ms = 0.25f, 0;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  void *m = malloc(bytes ? bytes : 1);
  if (!m)
    return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
  memset(m, 0xA5, bytes);
  ++fake_cuda_live_allocations;
  ++fake_cuda_alloc_calls;
  *p = (CUdeviceptr)(uintptr_t)m;
  return 0;
}
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t bytes,
                                  unsigned flags) {
  (void)flags;
  return cuMemAlloc_v2(p, bytes);
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  if (!p)
    return 1;
  free((void *)(uintptr_t)p);
  --fake_cuda_live_allocations;
  return 0;
}
EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src,
                                size_t bytes) {
  memcpy((void *)(uintptr_t)dst, src, bytes);
  return 0;
}
EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  memcpy(dst, (const void *)(uintptr_t)src, bytes);
  return 0;
}
EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                              void *stream) {
  (void)stream;
  return cuMemcpy(dst, src, bytes);
}
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value,
                              size_t count) {
  memset((void *)(uintptr_t)dst, value, count);
  return 0;
}
EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count,
                                 void *stream) {
  (void)stream;
  uint32_t *p = (uint32_t *)(uintptr_t)dst;
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return 0;
}
EXPORT CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value,
                                 size_t count, void *stream) {
  (void)stream;
  uint16_t *p = (uint16_t *)(uintptr_t)dst;
  for (size_t i = 0; i < count; ++i)
    p[i] = value;
  return 0;
}
EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
  *s = r ? "fake driver error" : "no error";
  return 0;
}
EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = r ? "CUDA_ERROR_FAKE" : "CUDA_SUCCESS";
  return 0;
}
