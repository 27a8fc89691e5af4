"""The DeepSeek-V3 MoE layer on the host at V3 sizes (examples/moe_layer: 256
FP8 experts of 2048 + 1 shared, top-8) for T = 1, 8, 64 tokens:

  * which weight bytes a call actually reads from disk: the weights file is
    evicted from the page cache (fsync + posix_fadvise DONTNEED, checked with
    mincore), the module runs once in a fresh dsv3-run, and mincore counts the
    file's resident pages inside the activated experts' tensors (the experts
    the numpy reference router of examples/moe_layer/reference.py picks for
    these tokens) and inside the other experts' tensors. With the zero-copy
    stacked layout the first must equal the activated experts' bytes. The
    second is what the kernel's readahead adds around them; it is measured a
    second time with the runtime's mapping advised MADV_RANDOM (an LD_PRELOAD
    shim around mmap; readahead off), where only pages the module touches are
    read: there it must be 0.
  * time per call: `dsv3-run --benchmark=N` (min of N calls after a first,
    untimed call in the same process, so the weights are cached and mapped: no
    process start, binding or disk reads in it), and GB/s = activated weight
    bytes / that time, next to a numpy memcpy of the same bytes measured in
    this run (as bench/fp8_linear.py).

  DSV3_BIN=build/bin .venv/bin/python bench/moe_layer.py --demo DIR [--tokens 1,8,64] [--runs 3]

DIR is examples/moe_layer/demo.py's --out: its weights.safetensors is reused
(written there if missing) and moe_T<T>.host.so compiled there if missing.
"""
import argparse
import atexit
import ctypes
import mmap
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(root, "examples", "moe_layer"))
import gen_weights as gw  # noqa: E402
import reference as ref  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--demo", required=True, help="examples/moe_layer/demo.py --out directory")
p.add_argument("--tokens", default="1,8,64")
p.add_argument("--runs", type=int, default=3, help="timed calls (1 when a call takes > 60 s)")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--no-shim", action="store_true", help="skip the readahead-off measurement")
args = p.parse_args()
P = gw.PREFIX + "."


def tool(name):
    d = os.environ.get("DSV3_BIN")
    return os.path.join(d, name) if d else name


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


# --- page cache ----------------------------------------------------------------
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
PAGE = os.sysconf("SC_PAGE_SIZE")


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # DONTNEED drops clean pages only
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def residency(path):
    """bool per page of the file: in the page cache now (mincore on a fresh,
    never touched mapping, so measuring reads nothing)."""
    size = os.path.getsize(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        vec = np.zeros((size + PAGE - 1) // PAGE, np.uint8)
        if libc.mincore(ctypes.c_void_p(addr), size, vec.ctypes.data_as(ctypes.c_void_p)) != 0:
            raise OSError(ctypes.get_errno(), "mincore failed")
        libc.munmap(ctypes.c_void_p(addr), size)
    finally:
        os.close(fd)
    return (vec & 1).astype(bool)


def read_ahead_kb(path):
    st = os.stat(path)
    d = f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    for q in (f"{d}/queue/read_ahead_kb", f"{d}/../queue/read_ahead_kb"):
        try:
            with open(q) as f:
                return int(f.read())
        except OSError:
            pass
    return None


def resident_bytes(res, ranges, among=None):
    """Resident bytes inside ranges (page-granular, clipped to the ranges),
    optionally only on pages where `among` is True."""
    total = 0
    for b, e in ranges:
        p0, p1 = b // PAGE, (e + PAGE - 1) // PAGE
        r = res[p0:p1] if among is None else res[p0:p1] & among[p0:p1]
        n = int(r.sum()) * PAGE
        if r[0]:
            n -= b - p0 * PAGE
        if r[-1]:
            n -= p1 * PAGE - e
        total += n
    return total


def memcpy_gbps(nbytes, runs):
    """Best of runs+1 numpy copies of nbytes (a 1 GiB buffer copied
    repeatedly when nbytes is larger, to stay within this machine's memory)."""
    chunk = min(nbytes, 1 << 30)
    src = np.ones(chunk, np.uint8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(runs + 1):
        t = time.perf_counter()
        left = nbytes
        while left > 0:
            n = min(left, chunk)
            np.copyto(dst[:n], src[:n])
            left -= n
        best = min(best, time.perf_counter() - t)
    return nbytes / best / 1e9


# --- set-up --------------------------------------------------------------------------
wfile = gw.generate(args.demo, args.seed)
fsize = os.path.getsize(wfile)
ra = read_ahead_kb(wfile)
W = gw.Weights(wfile)
gate_w = gw.bf16_to_f64(W.raw_tensor(P + "gate.weight"))
bias = np.asarray(W.raw_tensor(P + "gate.e_score_correction_bias"), np.float64)
ranges = {name: W.range(name) for name in W.header if name != "__metadata__"}
del W  # no mapping of the file may stay alive in this process
with open(os.path.join(root, "examples", "moe_layer", "graph.mlir.in")) as f:
    graph_in = f.read()


def expert_ranges(experts, suffix):
    return [ranges[f"{P}experts.{e}.{p}.{suffix}"] for e in experts for p in gw.PROJ]


shared = [r for n, r in ranges.items() if ".shared_experts." in n or ".gate." in n]
print(f"weights file {wfile}: {fsize / 1e9:.2f} GB, page {PAGE} B, read_ahead_kb {ra}; "
      f"host CPUs {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (other work on the "
      f"machine skews the times; the byte counts do not depend on it)")
print("method: per T, evict the file (fsync + fadvise DONTNEED), run the module once in a fresh "
      "dsv3-run (cold), count resident pages (mincore); again with readahead off; then time "
      "`dsv3-run --benchmark=N` (min of N calls after an untimed first call in one process)\n",
      flush=True)

# With the runtime's mapping of the weights file advised MADV_RANDOM (kernel
# readahead off, so exactly the pages the module touches are read), through an
# LD_PRELOAD shim around mmap: separates what the module reads from what the
# kernel's readahead adds around it. Needs a C compiler; skipped without one.
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
void *mmap(void *a, size_t n, int prot, int flags, int fd, off_t off) {
  static void *(*real)(void *, size_t, int, int, int, off_t);
  if (!real) real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
  void *p = real(a, n, prot, flags, fd, off);
  if (p != MAP_FAILED && fd >= 0 && n >= (1ul << 30)) {
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k > 0 && (path[k] = 0, strstr(path, ".safetensors")))
      madvise(p, n, MADV_RANDOM);
  }
  return p;
}
"""


def build_shim():
    if args.no_shim:
        return None
    d = tempfile.mkdtemp(prefix="dsv3-moe-bench-")
    atexit.register(shutil.rmtree, d, True)
    with open(f"{d}/shim.c", "w") as f:
        f.write(SHIM)
    for cc in ("cc", "gcc", "clang"):
        r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", f"{d}/shim.so", f"{d}/shim.c", "-ldl"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return f"{d}/shim.so"
    print("no C compiler: the readahead-off column is skipped")
    return None


shim = build_shim()


def cold_call(cmd, env=None):
    """Evict the file, run cmd, return (resident bytes before, wall s, residency after)."""
    evict(wfile)
    before = int(residency(wfile).sum()) * PAGE
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return before, wall, residency(wfile)


rows = []
for T in map(int, args.tokens.split(",")):
    so = os.path.join(args.demo, f"moe_T{T}.host.so")
    if not os.path.exists(so):
        g = os.path.join(args.demo, f"moe_T{T}.mlir")
        with open(g, "w") as f:
            f.write(graph_in.replace("@T@", str(T)))
        t = time.perf_counter()
        sh([tool("dsv3-compile"), g, "--target=host", "-o", so])
        print(f"T={T}: compiled {so} in {time.perf_counter() - t:.1f} s")
    xfile = gw.write_hidden(args.demo, args.seed, T)
    x = gw.bf16_to_f64(gw.hidden(args.seed, T))
    ids, _, gm, em = ref.route(x, gate_w, bias)
    act = sorted(set(ids.ravel().tolist()))
    non = [e for e in range(gw.E) if e not in act]
    nbr = [e for e in non if e - 1 in act or e + 1 in act]
    act_w, non_w = expert_ranges(act, "weight"), expert_ranges(non, "weight")
    nbr_w = expert_ranges(nbr, "weight")
    act_s = expert_ranges(act, "weight_scale_inv")
    all_s = expert_ranges(range(gw.E), "weight_scale_inv")
    size = {k: sum(e - b for b, e in v) for k, v in (("act_w", act_w), ("non_w", non_w),
            ("act_s", act_s), ("all_s", all_s), ("shared", shared))}
    act_bytes = size["act_w"] + size["act_s"] + size["shared"]

    cmd = [tool("dsv3-run"), so, "--function=moe", f"--parameters={wfile}",
           f"--input=@{xfile}:hidden", "--output=-"]
    modes = [("default readahead", None)]
    if shim:
        modes.append(("readahead off", dict(os.environ, LD_PRELOAD=shim)))
    stats = []
    for _, env in modes:
        before, wall, res = cold_call(cmd, env)
        stats.append({"before": before, "wall": wall, "total": int(res.sum()) * PAGE,
                      "act_w": resident_bytes(res, act_w), "non_w": resident_bytes(res, non_w),
                      "nbr_w": resident_bytes(res, nbr_w), "all_s": resident_bytes(res, all_s),
                      "shared": resident_bytes(res, shared)})
    cold = stats[0]["wall"]
    n = args.runs if cold < 60 else 1
    out = sh(cmd + [f"--benchmark={n}"])
    ms = float(re.search(r"min ([0-9.]+) ms", out).group(1))
    gbps = act_bytes / (ms / 1e3) / 1e9
    mc = memcpy_gbps(act_bytes, n)
    rows.append((T, len(act), act_bytes, ms, n, gbps, mc, [s["wall"] for s in stats],
                 [s["non_w"] for s in stats], stats[-1]["act_w"] == size["act_w"]))

    G, M = 1e9, 2**20
    print(f"T={T}: {len(act)} experts activated by {T * gw.K} (token, expert) pairs "
          f"(reference router; margins to a tie: groups {gm:.1e}, experts {em:.1e})")
    print(f"  {'resident bytes of the weights file after one cold call':56s}"
          + "".join(f"{m:>22s}" for m, _ in modes))
    line = lambda label, f: print(f"  {label:56s}" + "".join(f"{f(s):>22s}" for s in stats))  # noqa: E731
    line("before the call (right after eviction)", lambda s: f"{s['before'] / M:.1f} MiB")
    line(f"activated experts' FP8 weights (nominal {size['act_w'] / G:.4f} GB)",
         lambda s: f"{s['act_w'] / G:.4f} GB")
    line(f"other {len(non)} experts' FP8 weights ({size['non_w'] / G:.2f} GB)",
         lambda s: f"{s['non_w'] / G:.4f} GB")
    line(f"  of it in the {len(nbr)} experts next to an activated one",
         lambda s: f"{s['nbr_w'] / G:.4f} GB")
    line(f"expert scale stacks ({size['all_s'] / M:.2f} MiB; activated {size['act_s'] / M:.2f})",
         lambda s: f"{s['all_s'] / M:.2f} MiB")
    line(f"shared expert + router ({size['shared'] / M:.1f} MiB)", lambda s: f"{s['shared'] / M:.1f} MiB")
    line("whole file", lambda s: f"{s['total'] / G:.4f} GB")
    line("cold dsv3-run process (start, bind, first call)", lambda s: f"{s['wall']:.1f} s")
    print(f"  call: min {ms:.1f} ms of {n} -> {gbps:.3f} GB/s of activated weights "
          f"({act_bytes / G:.3f} GB); memcpy of as many bytes {mc:.2f} GB/s; load average "
          f"{os.getloadavg()[0]:.1f}\n", flush=True)

hdr = "readahead off" if shim else ""
print(f"{'T':>3s} {'experts':>7s} {'activated GB':>12s} {'ms/call':>9s} {'N':>2s} "
      f"{'weights GB/s':>12s} {'memcpy GB/s':>11s} {'ratio':>6s} {'cold s':>7s} "
      f"{'other experts read GB':>21s}" + (f" {'cold s, RA off':>14s} {'other GB, RA off':>16s}" if shim else ""))
for T, ne, b, ms, n, gbps, mc, walls, nonw, allread in rows:
    print(f"{T:3d} {ne:7d} {b / 1e9:12.3f} {ms:9.1f} {n:2d} {gbps:12.3f} {mc:11.2f} "
          f"{gbps / mc:6.3f} {walls[0]:7.1f} {nonw[0] / 1e9:21.4f}"
          + (f" {walls[1]:14.1f} {nonw[1] / 1e9:16.4f}" if shim else ""))
print("activated GB: the activated routed experts' FP8 weights and scales + shared expert + "
      "router. ms/call: min of N `--benchmark` calls (weights cached and mapped). cold s: a whole "
      "dsv3-run process right after evicting the file. other experts read: resident bytes of "
      "non-activated experts' weights after the cold call (kernel readahead); RA off: the same "
      "with the runtime's mapping advised MADV_RANDOM (only pages the module touches are read).")
