"""The memcpy yardstick of the host benchmarks: bytes copied per second by
N threads, each memcpy'ing its share of a buffer larger than the caches
(ctypes releases the GIL around the C call, so the threads run together),
and the helper that times such concurrent C calls."""
import ctypes
import threading
import time

import numpy as np

_libc = ctypes.CDLL(None)
_libc.memcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]


def best_concurrent_seconds(calls, runs):
    """Best of `runs` (after one warm-up) wall times of running every
    (function, args) in `calls` on its own thread, all at once."""
    best = float("inf")
    for _ in range(runs + 1):
        ts = [threading.Thread(target=f, args=a) for f, a in calls]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        best = min(best, time.perf_counter() - t)
    return best


def memcpy_gbps(threads, nbytes=256 << 20, runs=4):
    """Best of `runs` (after one warm-up) of `threads` concurrent memcpys."""
    src, dst = np.ones(nbytes, np.uint8), np.zeros(nbytes, np.uint8)
    chunk = nbytes // threads
    calls = [(_libc.memcpy, (dst.ctypes.data + i * chunk, src.ctypes.data + i * chunk, chunk))
             for i in range(threads)]
    return chunk * threads / best_concurrent_seconds(calls, runs) / 1e9
