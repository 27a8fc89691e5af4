/* A hand-written host module standing in for dsv3-compile output: it
 * exports the ABI v2 symbols and three entries exercising rank-2 parameters,
 * a rank-0 output and a 2-byte dtype. Each entry checks the descriptors it
 * receives and poisons its output if they break the calling convention. */
#include <math.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
} MemRef2f;
typedef struct {
  float *allocated, *aligned;
  int64_t offset;
} MemRef0f;
typedef struct {
  uint16_t *allocated, *aligned;
  int64_t offset, sizes[1], strides[1];
} MemRef1h;

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"host\", \"entries\": ["
         "{\"name\": \"add\", \"symbol\": \"dsv3_entry_add\", \"args\": ["
         "{\"name\": \"x\", \"role\": \"input\", \"dtype\": \"f32\", "
         "\"shape\": [2, 3]},"
         "{\"name\": \"w\", \"role\": \"parameter\", \"dtype\": \"f32\", "
         "\"shape\": [2, 3]},"
         "{\"name\": \"y\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": [2, 3]}]},"
         "{\"name\": \"sum\", \"symbol\": \"dsv3_entry_sum\", \"args\": ["
         "{\"name\": \"x\", \"role\": \"input\", \"dtype\": \"f32\", "
         "\"shape\": [2, 3]},"
         "{\"name\": \"s\", \"role\": \"output\", \"dtype\": \"f32\", "
         "\"shape\": []}]},"
         "{\"name\": \"neg_bf16\", \"symbol\": \"dsv3_entry_neg_bf16\", "
         "\"args\": ["
         "{\"name\": \"a\", \"role\": \"input\", \"dtype\": \"bf16\", "
         "\"shape\": [4]},"
         "{\"name\": \"b\", \"role\": \"output\", \"dtype\": \"bf16\", "
         "\"shape\": [4]}]}]}";
}

static int dense2(const MemRef2f *m, int64_t rows, int64_t cols) {
  return m->allocated == m->aligned && m->offset == 0 && m->sizes[0] == rows &&
         m->sizes[1] == cols && m->strides[0] == cols && m->strides[1] == 1;
}

EXPORT void dsv3_entry_add(void **args) {
  const MemRef2f *x = args[0], *w = args[1], *y = args[2];
  int ok = dense2(x, 2, 3) && dense2(w, 2, 3) && dense2(y, 2, 3);
  for (int i = 0; i < 6; ++i)
    y->aligned[i] = ok ? x->aligned[i] + w->aligned[i] : NAN;
}

EXPORT void dsv3_entry_sum(void **args) {
  const MemRef2f *x = args[0];
  const MemRef0f *s = args[1];
  float total = 0;
  for (int i = 0; i < 6; ++i)
    total += x->aligned[i];
  s->aligned[0] = dense2(x, 2, 3) && s->offset == 0 ? total : NAN;
}

EXPORT void dsv3_entry_neg_bf16(void **args) {
  const MemRef1h *a = args[0], *b = args[1];
  int ok = a->sizes[0] == 4 && a->strides[0] == 1 && b->sizes[0] == 4;
  for (int i = 0; i < 4; ++i)
    b->aligned[i] = ok ? (uint16_t)(a->aligned[i] ^ 0x8000u) : 0x7fc0u;
}

/* Stands in for libomp's: a compiled module with parallel loops links
 * libomp, and the runtime sets the session's thread count through the
 * module's handle before each call. The test reads it back. */
EXPORT int fake_omp_threads = -1;
EXPORT void omp_set_num_threads(int n) { fake_omp_threads = n; }
