/* A host module with session state (ABI v2): "append" writes one element of
 * the state "kv" at a bounded position, "bump" increments every element of
 * "kv" and the rank-0 state "count", "ids" sums a bounded i64 input. State
 * args sit between inputs and outputs to check that descriptors follow the
 * metadata order. Entries poison their outputs if a descriptor is not dense
 * row-major. */
#include <math.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct {
  void *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1;
typedef struct {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2;
typedef struct {
  void *allocated, *aligned;
  int64_t offset;
} MemRef0;

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"host\", \"entries\": ["
         "{\"name\": \"append\", \"symbol\": \"dsv3_entry_append\", \"args\": ["
         "{\"name\": \"pos\", \"role\": \"input\", \"dtype\": \"i32\", "
         "\"shape\": [1], \"bounds\": {\"min\": 0, \"max\": 7, \"why\": "
         "\"append writes 1 row(s) per call into a cache of max_seq_len 8\"}},"
         "{\"name\": \"kv\", \"role\": \"state\", \"dtype\": \"f32\", "
         "\"shape\": [8]},"
         "{\"name\": \"value\", \"role\": \"input\", \"dtype\": \"f32\", "
         "\"shape\": [1]},"
         "{\"name\": \"total\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": []}]},"
         "{\"name\": \"bump\", \"symbol\": \"dsv3_entry_bump\", \"args\": ["
         "{\"name\": \"kv\", \"role\": \"state\", \"dtype\": \"f32\", "
         "\"shape\": [8]},"
         "{\"name\": \"count\", \"role\": \"state\", \"dtype\": \"i64\", "
         "\"shape\": []},"
         "{\"name\": \"snapshot\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [8]},"
         "{\"name\": \"calls\", \"role\": \"output\", \"dtype\": \"i64\", "
         "\"shape\": []}]},"
         "{\"name\": \"ids\", \"symbol\": \"dsv3_entry_ids\", \"args\": ["
         "{\"name\": \"ids\", \"role\": \"input\", \"dtype\": \"i64\", "
         "\"shape\": [2, 2], \"bounds\": {\"min\": -1, \"max\": 3, \"why\": "
         "\"expert ids index 4 routed experts\"}},"
         "{\"name\": \"s\", \"role\": \"output\", \"dtype\": \"i64\", "
         "\"shape\": []}]}]}";
}

static int dense1(const MemRef1 *m, int64_t n) {
  return m->allocated == m->aligned && m->offset == 0 && m->sizes[0] == n &&
         m->strides[0] == 1;
}

EXPORT void dsv3_entry_append(void **args) {
  const MemRef1 *pos = args[0], *kv = args[1], *value = args[2];
  const MemRef0 *total = args[3];
  int ok = dense1(pos, 1) && dense1(kv, 8) && dense1(value, 1);
  float *cache = kv->aligned;
  int32_t p = *(const int32_t *)pos->aligned;
  if (ok && p >= 0 && p < 8)
    cache[p] = *(const float *)value->aligned;
  float sum = 0;
  for (int i = 0; i < 8; ++i)
    sum += cache[i];
  *(float *)total->aligned = ok ? sum : NAN;
}

EXPORT void dsv3_entry_bump(void **args) {
  const MemRef1 *kv = args[0], *snapshot = args[2];
  const MemRef0 *count = args[1], *calls = args[3];
  int ok = dense1(kv, 8) && dense1(snapshot, 8) && count->offset == 0;
  float *cache = kv->aligned, *out = snapshot->aligned;
  for (int i = 0; i < 8; ++i) {
    cache[i] += 1;
    out[i] = ok ? cache[i] : NAN;
  }
  int64_t *c = count->aligned;
  *c += 1;
  *(int64_t *)calls->aligned = ok ? *c : -1;
}

EXPORT void dsv3_entry_ids(void **args) {
  const MemRef2 *ids = args[0];
  const MemRef0 *s = args[1];
  const int64_t *v = ids->aligned;
  int ok = ids->sizes[0] == 2 && ids->sizes[1] == 2 && ids->strides[0] == 2;
  *(int64_t *)s->aligned = ok ? v[0] + v[1] + v[2] + v[3] : -999;
}
