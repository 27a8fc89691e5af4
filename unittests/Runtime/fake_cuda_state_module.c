/* A cuda module with session state (ABI v2) that touches device memory only
 * through mgpuMemcpy, so it runs on a real GPU and under the host-memory
 * fake driver alike: "swap" returns the state "acc" and replaces it with its
 * input, "peek" returns it, "experts" returns its stacked parameter
 * "experts.{e}.w" f32[4, 3] as the device holds it. */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

void mgpuMemcpy(void *dst, void *src, uint64_t bytes, void *stream);

typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1f;

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"cuda\", \"entries\": ["
         "{\"name\": \"swap\", \"symbol\": \"dsv3_entry_swap\", \"args\": ["
         "{\"name\": \"x\", \"role\": \"input\", \"dtype\": \"f32\", "
         "\"shape\": [4]},"
         "{\"name\": \"acc\", \"role\": \"state\", \"dtype\": \"f32\", "
         "\"shape\": [4]},"
         "{\"name\": \"y\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [4]}]},"
         "{\"name\": \"peek\", \"symbol\": \"dsv3_entry_peek\", \"args\": ["
         "{\"name\": \"acc\", \"role\": \"state\", \"dtype\": \"f32\", "
         "\"shape\": [4]},"
         "{\"name\": \"y\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [4]}]},"
         "{\"name\": \"experts\", \"symbol\": \"dsv3_entry_experts\", "
         "\"args\": ["
         "{\"name\": \"experts.{e}.w\", \"role\": \"parameter\", "
         "\"dtype\": \"f32\", \"shape\": [4, 3], \"stacked\": true},"
         "{\"name\": \"w\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [4, 3]}]}]}";
}

EXPORT void dsv3_entry_swap(void **args) {
  MemRef1f *x = args[0], *acc = args[1], *y = args[2];
  mgpuMemcpy(y->aligned, acc->aligned, 16, 0);
  mgpuMemcpy(acc->aligned, x->aligned, 16, 0);
}

EXPORT void dsv3_entry_peek(void **args) {
  MemRef1f *acc = args[0], *y = args[1];
  mgpuMemcpy(y->aligned, acc->aligned, 16, 0);
}

typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2f;

EXPORT void dsv3_entry_experts(void **args) {
  MemRef2f *w = args[0], *out = args[1];
  mgpuMemcpy(out->aligned, w->aligned, 48, 0);
}
