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


def last_level_cache_bytes(default=32 << 20):
    """The largest data or unified cache of CPU 0, from sysfs (Linux), or
    `default` where sysfs does not say. Benchmarks that stream weights from
    DRAM size their working set as a multiple of it: a fixed 32 MiB guess
    left 100 MB of weights in the 105 MiB L3 of a Sapphire Rapids VM."""
    import glob
    best = 0
    for d in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(d + "/type") as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(d + "/size") as f:
                s = f.read().strip()
        except OSError:
            continue
        units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
        n = int(s[:-1]) * units[s[-1]] if s and s[-1] in units else int(s or 0)
        best = max(best, n)
    return best or default
