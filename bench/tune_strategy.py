"""Sweep the host strategy table's weight_tiles parameters for one FP8 linear
(docs/host-target.md, "The table"): each configuration is written on the op as
a `dsv3.host_strategy` dictionary, compiled, run with `dsv3-run --benchmark`,
and reported as ms and GFLOP/s / the f32 FMA peak of bench/_fma_peak.py (same
threads, same run). The parameters move the blocking only, so every
configuration computes the same bits; the sweep says how much the blocking
matters for a shape and token count.

  DSV3_BIN=build/bin .venv/bin/python bench/tune_strategy.py [--shape q_a_proj]
      [--tokens 256] [--threads 1] [--runs 3]
      [--grid "32,96,4 64,96,4 32,6,4"]   (rows_per_task,token_block,k_chunk_blocks)

A fourth value sets decode_tokens too ("32,96,4,0": every token count takes
the prefill's panel; "32,96,4,16": up to 16 tokens take the decode path).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "Integration", "lib"))
from dsv3_testing import *  # noqa: E402,F403
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _fma_peak import fma_peak_gflops  # noqa: E402

SHAPES = {  # V3 checkpoint shapes, weight [N, K]
    "q_a_proj": (1536, 7168),
    "q_b_proj": (24576, 1536),
    "kv_a_proj_with_mqa": (576, 7168),
    "o_proj": (7168, 16384),
    "experts.down_proj": (7168, 2048),
}
DEFAULT_GRID = ("32,96,4 16,96,4 64,96,4 128,96,4 32,6,4 32,12,4 32,24,4 32,48,4 "
                "32,96,1 32,96,2 32,96,8")

p = argparse.ArgumentParser()
p.add_argument("--shape", default="q_a_proj", choices=sorted(SHAPES))
p.add_argument("--tokens", type=int, default=256)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--runs", type=int, default=3)
p.add_argument("--grid", default=DEFAULT_GRID)
args = p.parse_args()

n, k = SHAPES[args.shape]
m = args.tokens
tmp = tempfile.mkdtemp(prefix="dsv3-tune-")
rng = np.random.default_rng(0)
q, s, _ = quantize_ref(rng.standard_normal((n, k)).astype(np.float32), [128, 128])
save_safetensors(f"{tmp}/w.safetensors", {"w": q, "s": s})
save_safetensors(f"{tmp}/x.safetensors",
                 {"x": rng.standard_normal((m, k)).astype(ml_dtypes.bfloat16)})
sb = f"tensor<{s.shape[0]}x{s.shape[1]}xf32>"
peak = fma_peak_gflops(args.threads)
flops = 2 * m * n * k
print(f"{args.shape} [{n} x {k}], {m} tokens, {args.threads} thread(s); "
      f"f32 FMA peak {peak:.1f} GFLOP/s")
print(f"{'rows_per_task':>13s} {'token_block':>11s} {'k_chunk_blocks':>14s} "
      f"{'decode_tokens':>13s} {'ms':>9s} "
      f"{'GFLOP/s':>8s} {'/ peak':>6s}")
outputs = {}
for cfg in args.grid.split():
    values = [int(v) for v in cfg.split(",")]
    rows, block, chunk = values[:3]
    decode = values[3] if len(values) > 3 else None
    extra = "" if decode is None else f", decode_tokens = {decode} : i64"
    strategy = (f'{{dsv3.host_strategy = {{kernel = "weight_tiles", rows_per_task = {rows} : i64, '
                f'token_block = {block} : i64, k_chunk_blocks = {chunk} : i64{extra}}}}}')
    base = f"{tmp}/{rows}_{block}_{chunk}_{decode}"
    with open(base + ".mlir", "w") as f:
        f.write(f"""func.func @f(%x: tensor<{m}x{k}xbf16>) -> tensor<{m}x{n}xf32> {{
  %w = dsv3.parameter "w" : tensor<{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "s" : {sb}
  %y = dsv3.linear %x, %w weight_scale_inv(%s : {sb}) {strategy}
      : (tensor<{m}x{k}xbf16>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<{m}x{n}xf32>
  return %y : tensor<{m}x{n}xf32>
}}""")
    subprocess.run([tool("dsv3-compile"), base + ".mlir", "-o", base + ".so"], check=True)
    common = [tool("dsv3-run"), base + ".so", "--function=f", f"--parameters={tmp}/w.safetensors",
              f"--input=@{tmp}/x.safetensors:x", f"--threads={args.threads}"]
    r = subprocess.run(common + [f"--benchmark={args.runs}", "--output=none"],
                       check=True, capture_output=True, text=True)
    ms = float(re.search(r"min ([0-9.]+) ms", r.stdout).group(1))
    subprocess.run(common + [f"--output=@{base}.npy"], check=True, capture_output=True)
    outputs[cfg] = np.load(base + ".npy")
    gflops = flops / (ms / 1e3) / 1e9
    shown = "default" if decode is None else str(decode)
    print(f"{rows:13d} {block:11d} {chunk:14d} {shown:>13s} {ms:9.3f} {gflops:8.1f} "
          f"{gflops / peak:6.3f}",
          flush=True)
first = next(iter(outputs.values()))
same = all(np.array_equal(o, first) for o in outputs.values())
print("every configuration gives the same bits:", "yes" if same else "NO")
sys.exit(0 if same else 1)
