"""The real DeepSeek-V3 MoE layer (model.layers.3.mlp: 256 FP8 experts of
2048, 1 shared expert, top-8 noaux_tc routing): compile for host and cuda, run
the host module on T tokens with seeded random weights (11.3 GB, written once
in the zero-copy stacked layout by gen_weights.py), and check the routing
(expert ids and weights) and the output against an independent float64 numpy
reference of docs/semantics.md §11.2/§12.1 that dequantizes only the experts it routes to.

  DSV3_BIN=build/bin .venv/bin/python examples/moe_layer/demo.py --out DIR [--tokens 4]

(from the repository root).
"""
import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import gen_weights as gw  # noqa: E402
import reference as ref  # noqa: E402

# Output tolerance (norm-wise relative error vs float64). The module computes
# in f32: dot products of length 7168 (gate/up) and 2048 (down) accumulated in
# f32, f32 router/SwiGLU/combine. f32 rounding (u = 2^-24 = 6e-8) over a
# length-K sum gives a typical relative error ~ u*sqrt(K) = 5e-6 for K = 7168
# (worst case u*K = 4e-4, not reached by independent roundings); the demo also
# prints numpy's own f32 (blocked/pairwise) result as a second f32 data point.
TOL = 1e-5

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--tokens", type=int, default=4)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--runs", type=int, default=1, help="timed calls after the first (--benchmark)")
p.add_argument("--no-cuda", action="store_true", help="skip the cuda compile")
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
T, out = args.tokens, args.out


def tool(name):
    d = os.environ.get("DSV3_BIN")
    return os.path.join(d, name) if d else name


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        sys.exit(f"command failed with exit code {r.returncode}")
    return r.stdout


# --- inputs, graph, compile ----------------------------------------------------
wfile = gw.generate(out, args.seed)
xfile = gw.write_hidden(out, args.seed, T)
with open(os.path.join(here, "graph.mlir.in")) as f:
    graph = f.read().replace("@T@", str(T))
gpath = os.path.join(out, f"moe_T{T}.mlir")
with open(gpath, "w") as f:
    f.write(graph)

so = os.path.join(out, f"moe_T{T}.host.so")
t0 = time.perf_counter()
run([tool("dsv3-compile"), gpath, "--target=host", "-o", so])
t_host = time.perf_counter() - t0
print(f"compile (host): {t_host:.2f} s")
if not args.no_cuda:
    cuda_so = os.path.join(out, f"moe_T{T}.cuda.so")
    t0 = time.perf_counter()
    r = subprocess.run([tool("dsv3-compile"), gpath, "--target=cuda", "--cuda-chip=sm_90a",
                        "-o", cuda_so], capture_output=True, text=True)
    if r.returncode == 0:
        print(f"compile (cuda, sm_90a): {time.perf_counter() - t0:.2f} s -> {cuda_so}")
    else:
        print("compile (cuda) failed:\n" + r.stderr[-2000:])

# --- run on host -----------------------------------------------------------------
common = [f"--parameters={wfile}", f"--input=@{xfile}:hidden"]
rw, rid = (os.path.join(out, f"route_{n}_T{T}.npy") for n in ("weights", "ids"))
run([tool("dsv3-run"), so, "--function=route"] + common + [f"--output=@{rw}", f"--output=@{rid}"])
yfile = os.path.join(out, f"y_T{T}.host.npy")
t0 = time.perf_counter()
stdout = run([tool("dsv3-run"), so, "--function=moe"] + common
             + [f"--output=@{yfile}", f"--benchmark={args.runs}"])
t_wall = time.perf_counter() - t0
t_call = float(re.search(r"min ([0-9.]+) ms", stdout).group(1)) / 1e3
got_w, got_ids, got_y = np.load(rw), np.load(rid), np.load(yfile)

# --- float64 reference (docs/semantics.md §11.2, §12.1, §5.5): reference.py --------
t0 = time.perf_counter()
W = gw.Weights(wfile)
x = gw.bf16_to_f64(gw.hidden(args.seed, T))
ids, wts, group_margin, expert_margin = ref.route_from_file(W, x)
y = ref.layer(W, x, ids, wts)
t_ref = time.perf_counter() - t0
# numpy f32 of the same layer: a second f32 accumulation order, for scale.
y32 = ref.layer(W, x, ids, wts, np.float32)


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# --- report --------------------------------------------------------------------------
print(f"\nDeepSeek-V3 MoE layer {gw.PREFIX}, T = {T} tokens, H = {gw.H}, 256 experts x "
      f"{gw.I} (FP8 128x128 blocks) + 1 shared, top-{gw.K} of 8 groups (keep 4)")
nexp = len(np.unique(ids))
for t in range(T):
    print(f"  token {t}: experts {' '.join(f'{e:3d}' for e in got_ids[t])}   "
          f"weights {' '.join(f'{w:.3f}' for w in got_w[t])}")
print(f"  {nexp} distinct experts activated for {T * gw.K} (token, expert) pairs; "
      f"min margin to a tie: groups {group_margin:.2e}, experts {expert_margin:.2e}")
ids_ok = np.array_equal(got_ids, ids)
w_err = rel(got_w, wts)
err = rel(got_y, y)
err32 = rel(y32, y)
print(f"routing: expert ids {'identical to' if ids_ok else 'DIFFER from'} the float64 reference "
      f"(in rank order); weights rel. error {w_err:.2e}")
if not ids_ok:
    for t in np.nonzero((got_ids != ids).any(-1))[0]:
        print(f"  token {t}: module {got_ids[t].tolist()} vs reference {ids[t].tolist()}")
print(f"output y [{T}, {gw.H}] f32: rel. error vs float64 {err:.2e} (tolerance {TOL:.0e}; "
      f"numpy f32 vs float64: {err32:.2e}); |y| rms {np.sqrt(np.mean(y**2)):.3f}")
act_bytes = (nexp + 1) * sum(n * k + 4 * gw.nblocks(n) * gw.nblocks(k) for n, k in gw.PROJ.values())
print(f"times: compile host {t_host:.2f} s; host call {t_call:.2f} s (min of {args.runs} after "
      f"a first call; dsv3-run process {t_wall:.1f} s); float64 reference {t_ref:.1f} s")
print(f"activated weights: {nexp} routed + 1 shared expert = {act_bytes / 1e9:.2f} GB of "
      f"{os.path.getsize(wfile) / 1e9:.2f} GB")
ok = ids_ok and w_err < TOL and err < TOL
print("[SUCCESS] routing and output match the float64 reference" if ok else "[FAILED]")
sys.exit(0 if ok else 1)
