"""The compute yardstick of the host benchmarks: f32 FLOP/s that N threads
reach with independent 8-wide fused multiply-add chains (AVX2 + FMA), enough
chains to cover the FMA latency on both pipes. The kernel is C, built with the
clang the project uses and called through ctypes, which releases the GIL, so
the threads run together."""
import ctypes
import os
import subprocess
import tempfile

from _bandwidth import best_concurrent_seconds

_SRC = r"""
#include <immintrin.h>
/* 12 chains of 8 lanes: 2 FMA pipes x 4-5 cycles latency, with margin. */
float fma_chains(long iters) {
  __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps((float)i);
  for (long n = 0; n < iters; ++n)
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}
"""
_lib = None


def _load():
    global _lib
    if _lib is None:
        d = tempfile.mkdtemp(prefix="dsv3-fma-")
        src, so = os.path.join(d, "fma.c"), os.path.join(d, "fma.so")
        with open(src, "w") as f:
            f.write(_SRC)
        cc = os.environ.get("CC", "clang-22")
        subprocess.run([cc, "-O2", "-mavx2", "-mfma", "-shared", "-fPIC", src, "-o", so],
                       check=True)
        _lib = ctypes.CDLL(so)
        _lib.fma_chains.argtypes = [ctypes.c_long]
        _lib.fma_chains.restype = ctypes.c_float
    return _lib


def fma_peak_gflops(threads, iters=200_000_000 // 12, runs=3):
    """Best of `runs` (after one warm-up) of `threads` concurrent FMA loops:
    each iteration is 12 FMAs of 8 lanes (2 FLOPs each)."""
    lib = _load()
    best = best_concurrent_seconds([(lib.fma_chains, (iters,))] * threads, runs)
    return threads * iters * 12 * 8 * 2 / best / 1e9

if __name__ == "__main__":
    for n in (1, 2):
        print(f"f32 FMA peak, {n} thread(s): {fma_peak_gflops(n):.1f} GFLOP/s")
