"""Decode-shaped FP8 linear on the host: achieved weight bytes/s of dsv3's
compiled dsv3.linear (weight-only FP8, f32 out) against a memcpy of the same
number of bytes, both measured in this run on this machine.

  DSV3_BIN=build/bin .venv/bin/python bench/fp8_linear.py [--runs 5]
"""
import argparse
import subprocess
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "Integration", "lib"))
from dsv3_testing import *  # noqa: E402,F403

SHAPES = {  # V3 checkpoint shapes (docs/semantics.md §3.1), weight [N, K]
    "q_a_proj": (1536, 7168),
    "q_b_proj": (24576, 1536),
    "kv_a_proj_with_mqa": (576, 7168),
}
p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=5)
p.add_argument("--tokens", default="1,4,16")
args = p.parse_args()
tmp = tempfile.mkdtemp(prefix="dsv3-bench-")
rng = np.random.default_rng(0)


def memcpy_gbps(nbytes):
    src = np.ones(nbytes, np.uint8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(args.runs + 1):
        t = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t)
    return nbytes / best / 1e9


print(f"{'weight':20s} {'M':>3s} {'ms':>9s} {'weights GB/s':>13s} {'memcpy GB/s':>12s} {'ratio':>6s}")
for name, (n, k) in SHAPES.items():
    q, s, _ = quantize_ref(rng.standard_normal((n, k)).astype(np.float32), [128, 128])
    wfile = f"{tmp}/{name}.safetensors"
    save_safetensors(wfile, {"w": q, "s": s})
    for m in map(int, args.tokens.split(",")):
        g = f"""func.func @f(%x: tensor<{m}x{k}xbf16>) -> tensor<{m}x{n}xf32> {{
  %w = dsv3.parameter "w" : tensor<{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<{s.shape[0]}x{s.shape[1]}xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<{s.shape[0]}x{s.shape[1]}xf32>)
      : (tensor<{m}x{k}xbf16>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}"""
        base = f"{tmp}/{name}_{m}"
        with open(base + ".mlir", "w") as f:
            f.write(g)

        subprocess.run([tool("dsv3-compile"), base + ".mlir", "-o", base + ".so"], check=True)
        x = rng.standard_normal((m, k)).astype(ml_dtypes.bfloat16)
        save_safetensors(base + ".x.safetensors", {"x": x})
        r = subprocess.run([tool("dsv3-run"), base + ".so", "--function=f", f"--parameters={wfile}",
                            f"--input=@{base}.x.safetensors:x", f"--benchmark={args.runs}",
                            f"--output=@{base}.y.npy"], check=True, capture_output=True, text=True)
        ms = float(re.search(r"min ([0-9.]+) ms", r.stdout).group(1))
        wbytes = q.nbytes + s.nbytes
        gbps = wbytes / (ms / 1e3) / 1e9
        mc = memcpy_gbps(wbytes)
        print(f"{name:20s} {m:3d} {ms:9.2f} {gbps:13.2f} {mc:12.2f} {gbps / mc:6.3f}", flush=True)
