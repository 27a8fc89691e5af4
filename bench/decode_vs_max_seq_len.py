"""A decode step's cost grows with the tokens cached (kv_len), not with the
cache's capacity (max_seq_len): the real DeepSeek-V3 attention block (layer 0,
FP8 weights, bf16 latent cache, batch 1; examples/mla_block) compiled for host
with max_seq_len L = 4096 and L = 65536, decode timed at kv_len 64 and 4096
in one run, alternating the modules.

  DSV3_BIN=build/bin .venv/bin/python bench/decode_vs_max_seq_len.py [--runs 5]

With dsv3-lower-to-linalg{bound-by-kv-len} (the host default) attention
visits rows < kv_len and the cache update writes only the new row, so the two
capacities give the same time at each kv_len. --unbounded compiles with the
option off (every step visits and rewrites all L rows) for comparison.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(root, "test", "Integration", "lib"))
sys.path.insert(0, os.path.join(root, "python"))
from dsv3_testing import ml_dtypes, np, quantize_ref, save_safetensors, tool  # noqa: E402
import dsv3rt  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--runs", type=int, default=5)
p.add_argument("--lens", default="4096,65536", help="max_seq_len values")
p.add_argument("--kv-lens", default="64,4096", help="kv_len values timed")
p.add_argument("--unbounded", action="store_true",
               help="compile with bound-by-kv-len off (O(L) steps)")
p.add_argument("--out", default="")
args = p.parse_args()
out = args.out or tempfile.mkdtemp(prefix="dsv3-decode-L-")
lens = [int(v) for v in args.lens.split(",")]
kv_lens = [int(v) for v in args.kv_lens.split(",")]
os.makedirs(out, exist_ok=True)

H, C, R, NOPE, V, D, QR = 128, 512, 64, 128, 128, 7168, 1536
PFX = "model.layers.0.self_attn."
rng = np.random.default_rng(0)
weights = {}
for name, (n, k) in {"q_a_proj": (QR, D), "q_b_proj": (H * (NOPE + R), QR),
                     "kv_a_proj_with_mqa": (C + R, D), "kv_b_proj": (H * (NOPE + V), C),
                     "o_proj": (D, H * V)}.items():
    w = rng.standard_normal((n, k), np.float32) * np.float32(k ** -0.5)
    q, s, _ = quantize_ref(w, [128, 128])
    weights[PFX + name + ".weight"], weights[PFX + name + ".weight_scale_inv"] = q, s
for name, d in {"q_a_layernorm": QR, "kv_a_layernorm": C}.items():
    weights[PFX + name + ".weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(ml_dtypes.bfloat16)
wfile = os.path.join(out, "weights.safetensors")
save_safetensors(wfile, weights)

with open(os.path.join(root, "examples", "mla_block", "graph.mlir.in")) as f:
    template = f.read()
decode_src = "func.func @" + next(b for b in template.split("func.func @")[1:]
                                  if b.startswith("decode("))
modules = {}
for L in lens:
    g, so = os.path.join(out, f"decode_L{L}.mlir"), os.path.join(out, f"decode_L{L}.so")
    with open(g, "w") as f:
        f.write(decode_src.replace("@L@", str(L)))
    t0 = time.perf_counter()
    subprocess.run([tool("dsv3-compile"), g, "--target=host", "-o", so]
                   + (["--bound-by-kv-len=false"] if args.unbounded else []), check=True)
    print(f"L={L}: compiled in {time.perf_counter() - t0:.1f} s", flush=True)
    modules[L] = so

runners = {}
for L, so in modules.items():
    s = dsv3rt.Session("host")
    m = s.load(so)
    m.bind(wfile)
    runners[L] = (s, m)
x = rng.standard_normal((1, 1, D)).astype(ml_dtypes.bfloat16)
times = {(L, n): [] for L in lens for n in kv_lens}
for _ in range(args.runs):
    for n in kv_lens:
        for L in lens:  # alternating, so drift of the machine hits both alike
            _, m = runners[L]
            a = np.array([[n - 1]], np.int64)
            t0 = time.perf_counter()
            m.call("decode", x, a, a[0], np.array([n], np.int64))
            times[(L, n)].append(time.perf_counter() - t0)
print(f"decode of one token, V3 attention block, host, {args.runs} runs each, "
      f"{'unbounded' if args.unbounded else 'bound-by-kv-len'}")
print(f"{'kv_len':>7} " + " ".join(f"{'L=' + str(L) + ' ms (median)':>22}" for L in lens)
      + "   ratio")
for n in kv_lens:
    med = [1e3 * float(np.median(times[(L, n)])) for L in lens]
    print(f"{n:>7} " + " ".join(f"{v:>22.1f}" for v in med) + f"   {med[-1] / med[0]:.2f}")
