// Three ways to run the host's one-token FP8 GEMV tile (8 weight rows x 1
// token, K in 128-wide blocks, one f32 accumulator vector per row, as
// lib/Codegen/Host/VectorizeFP8Linear.cpp emits it) with the weights in
// L1/L2, so that the instruction mix, not DRAM, sets the time:
//
//   reg      8 codes at a time: vpmovsxbw, vpsllw 7, vpand 0xbf80 (the e4m3
//            bits as an f16 of the same value x 2^-8), vcvtph2ps from a
//            register, FMA. The kernel's form before 3 December 2026 (still
//            used by its multi-token tiles).
//   paired   16 codes per vpmovsxbw/vpsllw/vpand on 256 bits, then
//            vextracti128 and two register vcvtph2ps.
//   staged   each 8 x 128 block is first widened to f16 bits into a 2 KiB
//            buffer; the FMA loop then converts with vcvtph2ps from memory
//            (what the kernel now does for a linear of one token).
//
// All three add the same products in the same order (the program checks
// that their outputs are the same bits). The register form of vcvtph2ps needs a
// shuffle port as well as an FMA port, as does vpmovsxbw; the memory form needs
// no shuffle, so `staged` moves work from the shuffle port to the load and
// store ports.
//
//   clang -O3 -march=x86-64-v3 bench/micro/widen_e4m3_forms.c -o /tmp/widen
//   /tmp/widen            # weight GB/s of each form, best of 200, 3 times
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { K = 2048, ROWS = 64, TILE = 8, BLOCK = 128 };
static int8_t W[ROWS][K] __attribute__((aligned(64)));
static float X[K] __attribute__((aligned(64)));
static uint16_t Staged[TILE][BLOCK] __attribute__((aligned(64)));

static inline __m256 widen8(const int8_t *p) {
  __m128i v = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p));
  v = _mm_and_si128(_mm_slli_epi16(v, 7), _mm_set1_epi16((short)0xbf80));
  return _mm256_cvtph_ps(v);
}

static inline __m256i widen16Bits(const int8_t *p) {
  __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p));
  return _mm256_and_si256(_mm256_slli_epi16(v, 7),
                          _mm256_set1_epi16((short)0xbf80));
}

static inline float hsum(__m256 v) {
  __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  a = _mm_add_ps(a, _mm_movehl_ps(a, a));
  a = _mm_add_ss(a, _mm_movehdup_ps(a));
  return _mm_cvtss_f32(a);
}

typedef void (*Form)(float *);

__attribute__((noinline)) static void reg(float *out) {
  for (int r0 = 0; r0 < ROWS; r0 += TILE) {
    float s[TILE] = {0};
    for (int kb = 0; kb < K; kb += BLOCK) {
      __m256 acc[TILE];
      for (int r = 0; r < TILE; ++r)
        acc[r] = _mm256_setzero_ps();
      for (int k = kb; k < kb + BLOCK; k += 8) {
        __m256 x = _mm256_load_ps(X + k);
        for (int r = 0; r < TILE; ++r)
          acc[r] = _mm256_fmadd_ps(x, widen8(&W[r0 + r][k]), acc[r]);
      }
      for (int r = 0; r < TILE; ++r)
        s[r] += hsum(acc[r]);
    }
    for (int r = 0; r < TILE; ++r)
      out[r0 + r] = s[r];
  }
}

__attribute__((noinline)) static void paired(float *out) {
  for (int r0 = 0; r0 < ROWS; r0 += TILE) {
    float s[TILE] = {0};
    for (int kb = 0; kb < K; kb += BLOCK) {
      __m256 acc[TILE];
      for (int r = 0; r < TILE; ++r)
        acc[r] = _mm256_setzero_ps();
      for (int k = kb; k < kb + BLOCK; k += 16) {
        __m256 x0 = _mm256_load_ps(X + k), x1 = _mm256_load_ps(X + k + 8);
        for (int r = 0; r < TILE; ++r) {
          __m256i v = widen16Bits(&W[r0 + r][k]);
          acc[r] = _mm256_fmadd_ps(
              x0, _mm256_cvtph_ps(_mm256_castsi256_si128(v)), acc[r]);
          acc[r] = _mm256_fmadd_ps(
              x1, _mm256_cvtph_ps(_mm256_extracti128_si256(v, 1)), acc[r]);
        }
      }
      for (int r = 0; r < TILE; ++r)
        s[r] += hsum(acc[r]);
    }
    for (int r = 0; r < TILE; ++r)
      out[r0 + r] = s[r];
  }
}

__attribute__((noinline)) static void staged(float *out) {
  for (int r0 = 0; r0 < ROWS; r0 += TILE) {
    float s[TILE] = {0};
    for (int kb = 0; kb < K; kb += BLOCK) {
      for (int r = 0; r < TILE; ++r)
        for (int j = 0; j < BLOCK; j += 16)
          _mm256_store_si256((__m256i *)&Staged[r][j],
                             widen16Bits(&W[r0 + r][kb + j]));
      __m256 acc[TILE];
      for (int r = 0; r < TILE; ++r)
        acc[r] = _mm256_setzero_ps();
      for (int k = 0; k < BLOCK; k += 8) {
        __m256 x = _mm256_load_ps(X + kb + k);
        for (int r = 0; r < TILE; ++r)
          acc[r] = _mm256_fmadd_ps(
              x,
              _mm256_cvtph_ps(_mm_load_si128((const __m128i *)&Staged[r][k])),
              acc[r]);
      }
      for (int r = 0; r < TILE; ++r)
        s[r] += hsum(acc[r]);
    }
    for (int r = 0; r < TILE; ++r)
      out[r0 + r] = s[r];
  }
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double gbps(Form f, float *out) {
  double best = 1e9;
  for (int i = 0; i < 200; ++i) {
    double t = now();
    f(out);
    t = now() - t;
    if (t < best)
      best = t;
  }
  return (double)ROWS * K / best / 1e9;
}

int main(void) {
  srand(0);
  for (int r = 0; r < ROWS; ++r)
    for (int k = 0; k < K; ++k) {
      int c = rand() & 0xff;
      W[r][k] = (int8_t)((c & 0x7f) == 0x7f ? c - 1 : c); // no NaN codes
    }
  for (int k = 0; k < K; ++k)
    X[k] = rand() / (float)RAND_MAX - 0.5f;
  float a[ROWS], b[ROWS], c[ROWS];
  for (int rep = 0; rep < 3; ++rep) {
    double g1 = gbps(reg, a), g2 = gbps(paired, b), g3 = gbps(staged, c);
    int same = 1;
    for (int r = 0; r < ROWS; ++r)
      same &= a[r] == b[r] && a[r] == c[r];
    printf("weight GB/s: reg %.2f  paired %.2f (%.2fx)  staged %.2f (%.2fx)  "
           "same bits: %s\n",
           g1, g2, g2 / g1, g3, g3 / g1, same ? "yes" : "NO");
  }
  return 0;
}
