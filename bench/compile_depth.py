"""Compile time and module size against depth: DeepSeek-V3's config.json
(test/Import/Inputs/configs/deepseek-v3.json: 3 dense layers, then MoE) with
num_hidden_layers set to 4, 16 and 61, imported from the config alone and
compiled for host (and cuda with --cuda), each timed in one run.

  DSV3_BIN=build/bin .venv/bin/python bench/compile_depth.py [--layers 4,16,61] [--cuda]

Each kind of layer is one function called once per layer, and the entries
(one block of calls) are compiled as a separate unit at -O0, so the time
should grow with depth only through the entries' size.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(root, "test", "Integration", "lib"))
from dsv3_testing import tool  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--layers", default="4,16,61")
p.add_argument("--cuda", action="store_true")
p.add_argument("--out", default="")
args = p.parse_args()
out = args.out or tempfile.mkdtemp(prefix="dsv3-compile-depth-")
os.makedirs(out, exist_ok=True)
with open(os.path.join(root, "test", "Import", "Inputs", "configs", "deepseek-v3.json")) as f:
    base = json.load(f)
targets = ["host"] + (["cuda"] if args.cuda else [])
rows = []
for n in [int(v) for v in args.layers.split(",")]:
    cfg = dict(base, num_hidden_layers=n)
    cpath = os.path.join(out, f"config_{n}.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    for target in targets:
        # The default import: prefill of any length, on both targets.
        mlir = os.path.join(out, f"v3_{n}_{target}.mlir")
        subprocess.run([tool("dsv3-import"), cpath, "-o", mlir],
                       check=True, stderr=subprocess.DEVNULL)
        so = os.path.join(out, f"v3_{n}_{target}.so")
        t0 = time.perf_counter()
        subprocess.run([tool("dsv3-compile"), mlir, f"--target={target}", "-o", so],
                       check=True)
        rows.append((n, target, time.perf_counter() - t0, os.path.getsize(so)))
        print(f"{n} layers, {target}: {rows[-1][2]:.1f} s, {rows[-1][3] / 2**20:.2f} MiB",
              flush=True)
print("\nDeepSeek-V3 (prefill of any length + decode, max_seq_len 4096), "
      f"{os.cpu_count()} cores")
print(f"{'layers':>6} {'target':>6} {'compile s':>10} {'module MiB':>11} {'vs 4 layers':>12}")
first = {t: next(r[2] for r in rows if r[1] == t) for t in targets}
for n, t, s, size in rows:
    print(f"{n:>6} {t:>6} {s:>10.1f} {size / 2**20:>11.2f} {s / first[t]:>11.2f}x")
