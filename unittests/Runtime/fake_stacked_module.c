/* A host module with a stacked parameter: "experts.{e}.w" of shape [4, 3] is
 * bound from the checkpoint tensors experts.0.w .. experts.3.w. "gather_rows"
 * copies the rows selected by a bounded expert id input and reports the
 * address the runtime passed for the weights, so a test can tell whether
 * they were bound in place (inside the file mapping) or gathered. "single"
 * uses the unstacked tensor experts.1.w.
 *
 * Built with FAKE_EXPERT_POINTERS (fake_stacked_pointers_module), the
 * parameter is marked "expert_pointers", as dsv3-compile's host modules
 * take it: a memref<4 x i64> of the experts' addresses, and the address
 * reported is that of the first id's expert. */
#include <math.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

#ifdef FAKE_EXPERT_POINTERS
#define POINTERS ", \"expert_pointers\": true"
#else
#define POINTERS ""
#endif

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

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"host\", \"entries\": ["
         "{\"name\": \"gather_rows\", \"symbol\": \"dsv3_entry_gather_rows\", "
         "\"args\": ["
         "{\"name\": \"ids\", \"role\": \"input\", \"dtype\": \"i32\", "
         "\"shape\": [2], \"bounds\": {\"min\": 0, \"max\": 3, \"why\": "
         "\"expert ids index 4 routed experts\"}},"
         "{\"name\": \"experts.{e}.w\", \"role\": \"parameter\", "
         "\"dtype\": \"f32\", \"shape\": [4, 3], \"stacked\": true" POINTERS
         "},"
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

#ifdef FAKE_EXPERT_POINTERS
EXPORT void dsv3_entry_gather_rows(void **args) {
  const MemRef1 *ids = args[0], *table = args[1];
  const MemRef2f *rows = args[2];
  const MemRef0i *address = args[3];
  int ok = table->allocated == table->aligned && table->offset == 0 &&
           table->sizes[0] == 4 && table->strides[0] == 1 &&
           rows->sizes[0] == 2 && rows->strides[0] == 3;
  const int32_t *id = ids->aligned;
  const int64_t *experts = table->aligned;
  for (int r = 0; r < 2; ++r)
    for (int c = 0; c < 3; ++c)
      rows->aligned[3 * r + c] =
          ok && id[r] >= 0 && id[r] < 4
              ? ((const float *)(uintptr_t)experts[id[r]])[c]
              : NAN;
  *address->aligned = ok && id[0] >= 0 && id[0] < 4 ? experts[id[0]] : 0;
}
#else
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
#endif

EXPORT void dsv3_entry_single(void **args) {
  const MemRef1 *w = args[0], *y = args[1];
  for (int i = 0; i < 3; ++i)
    ((float *)y->aligned)[i] = ((const float *)w->aligned)[i];
}
