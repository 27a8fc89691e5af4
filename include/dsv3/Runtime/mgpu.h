/* The mgpu* functions libdsv3rt exports for cuda modules (docs/runtime-abi.md).
 * Modules do not include this header (their calls come from MLIR's GPU
 * lowering); it exists so tests and tools can call them with the exact
 * signatures. None of them aborts: without a driver or on a driver error they
 * record the first error (the runtime reports it after the entry returns) and
 * return NULL or do nothing. */
#ifndef DSV3_RUNTIME_MGPU_H
#define DSV3_RUNTIME_MGPU_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(DSV3RT_BUILDING_LIBRARY)
#define DSV3RT_MGPU_API __attribute__((visibility("default")))
#else
#define DSV3RT_MGPU_API
#endif

DSV3RT_MGPU_API void *mgpuModuleLoad(void *data, int64_t size);
DSV3RT_MGPU_API void *mgpuModuleLoadJIT(void *ptx, int32_t optLevel);
DSV3RT_MGPU_API void mgpuModuleUnload(void *module);
DSV3RT_MGPU_API void *mgpuModuleGetFunction(void *module, const char *name);
DSV3RT_MGPU_API void mgpuLaunchKernel(void *fn, int64_t gx, int64_t gy,
                                      int64_t gz, int64_t bx, int64_t by,
                                      int64_t bz, int32_t smem, void *stream,
                                      void **params, void **extra,
                                      int64_t nparams);
DSV3RT_MGPU_API void *mgpuStreamCreate(void);
DSV3RT_MGPU_API void mgpuStreamSynchronize(void *stream);
DSV3RT_MGPU_API void mgpuStreamDestroy(void *stream);
DSV3RT_MGPU_API void *mgpuEventCreate(void);
DSV3RT_MGPU_API void mgpuEventDestroy(void *event);
DSV3RT_MGPU_API void mgpuEventSynchronize(void *event);
DSV3RT_MGPU_API void mgpuEventRecord(void *event, void *stream);
DSV3RT_MGPU_API void mgpuStreamWaitEvent(void *stream, void *event);
DSV3RT_MGPU_API void *mgpuMemAlloc(uint64_t bytes, void *stream,
                                   bool hostShared);
DSV3RT_MGPU_API void mgpuMemFree(void *ptr, void *stream);
DSV3RT_MGPU_API void mgpuMemcpy(void *dst, void *src, uint64_t bytes,
                                void *stream);
DSV3RT_MGPU_API void mgpuMemset32(void *dst, uint32_t value, uint64_t count,
                                  void *stream);
DSV3RT_MGPU_API void mgpuMemset16(void *dst, uint16_t value, uint64_t count,
                                  void *stream);

#ifdef __cplusplus
}
#endif

#endif /* DSV3_RUNTIME_MGPU_H */
