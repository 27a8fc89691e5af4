/* A host module with a stacked parameter (ABI v2): "experts.{e}.w" of shape
 * [4, 3] is bound from the checkpoint tensors experts.0.w .. experts.3.w.
 * "gather_rows" copies the rows selected by a bounded expert id input and
 * reports the address the runtime passed for the weights, so a test can
 * tell whether they were bound in place (inside the file mapping) or
 * gathered. "single" uses the unstacked tensor experts.1.w. */
#include <math.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2f;
typedef struct {
  void *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1;
typedef struct {
  int64_t *allocated, *aligned;
  int64_t offset;
} MemRef0i;

EXPORT uint32_t dsv3_module_abi_version(void) { return 3; }

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 3, \"target\": \"host\", \"entries\": ["
         "{\"name\": \"gather_rows\", \"symbol\": \"dsv3_entry_gather_rows\", "
         "\"args\": ["
         "{\"name\": \"ids\", \"role\": \"input\", \"dtype\": \"i32\", "
         "\"shape\": [2], \"bounds\": {\"min\": 0, \"max\": 3, \"why\": "
         "\"expert ids index 4 routed experts\"}},"
         "{\"name\": \"experts.{e}.w\", \"role\": \"parameter\", "
         "\"dtype\": \"f32\", \"shape\": [4, 3], \"stacked\": true},"
         "{\"name\": \"rows\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [2, 3]},"
         "{\"name\": \"address\", \"role\": \"output\", \"dtype\": \"i64\", "
         "\"shape\": []}]},"
         "{\"name\": \"single\", \"symbol\": \"dsv3_entry_single\", \"args\": ["
         "{\"name\": \"experts.1.w\", \"role\": \"parameter\", "
         "\"dtype\": \"f32\", \"shape\": [3]},"
         "{\"name\": \"y\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [3]}]}]}";
}

EXPORT void dsv3_entry_gather_rows(void **args) {
  const MemRef1 *ids = args[0];
  const MemRef2f *w = args[1], *rows = args[2];
  const MemRef0i *address = args[3];
  int ok = w->allocated == w->aligned && w->offset == 0 && w->sizes[0] == 4 &&
           w->sizes[1] == 3 && w->strides[0] == 3 && w->strides[1] == 1 &&
           rows->sizes[0] == 2 && rows->strides[0] == 3;
  const int32_t *id = ids->aligned;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      rows->aligned[3 * r + c] =
          ok && id[r] >= 0 && id[r] < 4 ? w->aligned[3 * id[r] + c] : NAN;
  *address->aligned = (int64_t)(uintptr_t)w->aligned;
}

EXPORT void dsv3_entry_single(void **args) {
  const MemRef1 *w = args[0], *y = args[1];
  for (int i = 0; i < 3; ++i)
    ((float *)y->aligned)[i] = ((const float *)w->aligned)[i];
}
