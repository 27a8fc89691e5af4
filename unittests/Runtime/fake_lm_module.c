/* A stand-in for a whole-model module (dsv3-import output) with the
 * prefill/decode contract of lib/Runtime/Generate.h: vocabulary V = 8,
 * prefill chunks of P = 3 tokens, a "KV cache" state of L = 16 rows that
 * records the token ids. After the tokens t_0..t_{k-1} (k = kv_len) the
 * logits are l_j = -|j - next| with next = (3 * sum(t) + k) % 8, so greedy
 * decoding is predictable and every token has some probability.
 *
 * Calls are checked: positions must be start_pos..start_pos+S-1 and
 * kv_len = start_pos + S, else the logits are NaN. decode lists its inputs
 * in another order than prefill (the generator maps them by name).
 *
 * Built twice: with FAKE_LM_WRONG_DECODE, decode takes input_ids [1,2] (a
 * module the generator must refuse). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define EXPORT __attribute__((visibility("default")))

enum { V = 8, P = 3, L = 16 };

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
  int64_t offset, sizes[3], strides[3];
} MemRef3;

EXPORT uint32_t dsv3_module_abi_version(void) { return 4; }

#define IDS(S)                                                                 \
  "{\"name\": \"input_ids\", \"role\": \"input\", \"dtype\": \"i64\", "        \
  "\"shape\": [1, " #S "], \"bounds\": {\"min\": 0, \"max\": 7, \"why\": "     \
  "\"embedding indexes a table of 8 tokens\"}}"
#define POSITIONS(S)                                                           \
  "{\"name\": \"positions\", \"role\": \"input\", \"dtype\": \"i64\", "        \
  "\"shape\": [1, " #S "]}"
#define START(MAX)                                                             \
  "{\"name\": \"start_pos\", \"role\": \"input\", \"dtype\": \"i64\", "        \
  "\"shape\": [1], \"bounds\": {\"min\": 0, \"max\": " #MAX ", \"why\": "      \
  "\"writes rows from start_pos into caches of max_seq_len 16\"}}"
#define KV_LEN                                                                 \
  "{\"name\": \"kv_len\", \"role\": \"input\", \"dtype\": \"i64\", "           \
  "\"shape\": [1], \"bounds\": {\"min\": 0, \"max\": 16, \"why\": "            \
  "\"reads kv_len rows of caches of max_seq_len 16\"}}"
#define CACHE                                                                  \
  "{\"name\": \"model.layers.0.self_attn.kv_cache.c_kv\", \"role\": "          \
  "\"state\", \"dtype\": \"f32\", \"shape\": [1, 16, 1]}"
#define LOGITS                                                                 \
  "{\"name\": \"logits\", \"role\": \"output\", \"dtype\": \"f32\", "          \
  "\"shape\": [1, 8]}"

#ifdef FAKE_LM_WRONG_DECODE
#define DECODE_TOKENS "2"
#define DECODE_IDS IDS(2)
#define DECODE_POSITIONS POSITIONS(2)
#else
#define DECODE_TOKENS "1"
#define DECODE_IDS IDS(1)
#define DECODE_POSITIONS POSITIONS(1)
#endif

EXPORT const char *dsv3_module_metadata(void) {
  return "{\"abi_version\": 4, \"target\": \"host\", \"entries\": ["
         "{\"name\": \"prefill\", \"symbol\": \"dsv3_entry_prefill\", "
         "\"args\": [" IDS(3) "," POSITIONS(3) "," START(
             13) "," KV_LEN "," CACHE "," LOGITS "]},"
                 "{\"name\": \"decode\", \"symbol\": \"dsv3_entry_decode\", "
                 "\"args\": [" START(15) "," KV_LEN "," DECODE_IDS
                                         "," DECODE_POSITIONS "," CACHE
                                         "," LOGITS "]}]}";
}

static void run(const MemRef2 *ids, const MemRef2 *positions,
                const MemRef1 *startPos, const MemRef1 *kvLen,
                const MemRef3 *cache, const MemRef2 *logits, int64_t s) {
  const int64_t *t = ids->aligned, *pos = positions->aligned;
  int64_t start = *(const int64_t *)startPos->aligned;
  int64_t k = *(const int64_t *)kvLen->aligned;
  float *rows = cache->aligned, *out = logits->aligned;
  int ok = ids->sizes[1] == s && positions->sizes[1] == s &&
           cache->sizes[1] == L && logits->sizes[1] == V && k == start + s &&
           start >= 0 && k <= L;
  for (int64_t i = 0; ok && i < s; ++i)
    ok = pos[i] == start + i;
  if (!ok) {
    for (int j = 0; j < V; ++j)
      out[j] = NAN;
    return;
  }
  for (int64_t i = 0; i < s; ++i)
    rows[start + i] = (float)t[i];
  int64_t sum = 0;
  for (int64_t i = 0; i < k; ++i)
    sum += (int64_t)rows[i];
  int64_t next = (3 * sum + k) % V;
  for (int j = 0; j < V; ++j)
    out[j] = -(float)llabs(j - next);
}

EXPORT void dsv3_entry_prefill(void **args) {
  run(args[0], args[1], args[2], args[3], args[4], args[5], P);
}

EXPORT void dsv3_entry_decode(void **args) {
  run(args[2], args[3], args[0], args[1], args[4], args[5],
      DECODE_TOKENS[0] - '0');
}
