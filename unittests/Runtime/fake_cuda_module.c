/* Shaped like an upstream-lowered cuda module: a global constructor loads
 * the embedded fatbin with mgpuModuleLoad (inside dlopen), a destructor
 * unloads it, and the entry launches a kernel on its own stream. The mgpu*
 * symbols stay undefined and resolve against libdsv3rt at dlopen time. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

void *mgpuModuleLoad(void *data, int64_t size);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *fn, int64_t gx, int64_t gy, int64_t gz, int64_t bx,
                      int64_t by, int64_t bz, int32_t smem, void *stream,
                      void **params, void **extra, int64_t nparams);
void *mgpuStreamCreate(void);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamDestroy(void *stream);
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared);
void mgpuMemFree(void *ptr, void *stream);

/* Not a real fatbin: on a machine with a driver the load fails cleanly. */
static const unsigned char kFatbin[16] = {0x50, 0xed, 0x55, 0xba, 1, 0, 0x10};
static void *gModule;

__attribute__((constructor)) static void loadKernels(void) {
  gModule = mgpuModuleLoad((void *)kFatbin, sizeof kFatbin);
}

__attribute__((destructor)) static void unloadKernels(void) {
  mgpuModuleUnload(gModule);
}

typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1f;

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"cuda\", "
         "\"kernels\": [{\"name\": \"scale_kernel\", \"bytes\": 500000, "
         "\"flops\": 250000000}], "
         "\"entries\": ["
         "{\"name\": \"scale\", \"symbol\": \"dsv3_entry_scale\", \"args\": ["
         "{\"name\": \"x\", \"role\": \"input\", \"dtype\": \"f32\", "
         "\"shape\": [4]},"
         "{\"name\": \"y\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [4]}]}]}";
}

EXPORT void dsv3_entry_scale(void **args) {
  MemRef1f *x = args[0], *y = args[1];
  void *stream = mgpuStreamCreate();
  void *fn = mgpuModuleGetFunction(gModule, "scale_kernel");
  /* An intermediate buffer, allocated and freed on the call's stream as the
   * GPU-to-LLVM lowering of gpu.alloc/gpu.dealloc async does. */
  void *tmp = mgpuMemAlloc(4 * sizeof(float), stream, false);
  void *params[] = {&x->aligned, &tmp, &y->aligned};
  mgpuLaunchKernel(fn, 1, 1, 1, 4, 1, 1, 0, stream, params, NULL, 3);
  /* A kernel over zero rows (a grid extent computed from an empty dynamic
   * dimension): nothing to run, and no error, although the driver refuses
   * an empty grid. */
  mgpuLaunchKernel(fn, 0, 1, 1, 256, 1, 1, 0, stream, params, NULL, 3);
  mgpuMemFree(tmp, stream);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}
