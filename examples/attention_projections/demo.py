"""Main job: compile the V3 attention projections for host (and cuda), run on
host with seeded random weights in the checkpoint's dtypes and layout, and
compare with an independent float64 numpy reference."""
import argparse
import os
import subprocess
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "test", "Integration", "lib"))
from dsv3_testing import *  # noqa: E402,F403

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
p.add_argument("--tokens", type=int, default=4)
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)
T, L = args.tokens, "model.layers.0.self_attn."

with open(os.path.join(here, "graph.mlir.in")) as f:
    graph = f.read().replace("@T@", str(T))
gpath = os.path.join(args.out, "attn_proj.mlir")
with open(gpath, "w") as f:
    f.write(graph)

rng = np.random.default_rng(args.seed)


def fp8_weight(n, k):
    # Rows of different magnitudes, like trained weights, so blocks differ.
    w = rng.standard_normal((n, k)) * 0.02 * np.exp(rng.uniform(-1, 1, (n, 1)))
    q, s, _ = quantize_ref(w.astype(np.float32), [128, 128])
    return q, s


weights = {}
for name, (n, k) in {"q_a_proj": (1536, 7168), "q_b_proj": (24576, 1536),
                     "kv_a_proj_with_mqa": (576, 7168)}.items():
    q, s = fp8_weight(n, k)
    weights[L + name + ".weight"], weights[L + name + ".weight_scale_inv"] = q, s
for name, d in {"q_a_layernorm": 1536, "kv_a_layernorm": 512}.items():
    weights[L + name + ".weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(ml_dtypes.bfloat16)
hidden = rng.standard_normal((T, 7168)).astype(ml_dtypes.bfloat16)
wfile = os.path.join(args.out, "weights.safetensors")
save_safetensors(wfile, weights)
save_safetensors(os.path.join(args.out, "hidden.safetensors"), {"hidden": hidden})
print(f"weights: {os.path.getsize(wfile) / 2**20:.1f} MiB in {wfile}")

so = os.path.join(args.out, "attn_proj.host.so")
t0 = time.perf_counter()
run(["dsv3-compile", gpath, "--target=host", "-o", so])
print(f"compile (host): {time.perf_counter() - t0:.2f} s")

cuda_so = os.path.join(args.out, "attn_proj.cuda.so")
t0 = time.perf_counter()
r = subprocess.run([tool("dsv3-compile"), gpath, "--target=cuda", "--cuda-chip=sm_90a",
                    "-o", cuda_so], capture_output=True, text=True)
if r.returncode == 0:
    print(f"compile (cuda, sm_90a): {time.perf_counter() - t0:.2f} s -> {cuda_so}")
else:
    print("compile (cuda) failed:\n" + r.stderr[-2000:])

outs = [os.path.join(args.out, n + ".npy") for n in ("q", "kv_c", "k_pe")]
stdout = run(["dsv3-run", so, "--function=attn_proj", f"--parameters={wfile}",
              f"--input=@{args.out}/hidden.safetensors:hidden", "--benchmark=3"]
             + [f"--output=@{o}" for o in outs])
got = [np.load(o) for o in outs]


# Independent float64 reference (docs/semantics.md §7 RMSNorm, §5.5 dequantization).
def deq(name):
    q = weights[L + name + ".weight"].astype(np.float64)
    s = weights[L + name + ".weight_scale_inv"].astype(np.float64)
    s = np.repeat(np.repeat(s, 128, 0), 128, 1)[: q.shape[0], : q.shape[1]]
    return q * s


def rms(x, w):
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + 1e-6) * w.astype(np.float64)


x = hidden.astype(np.float64)
qa = rms(x @ deq("q_a_proj").T, weights[L + "q_a_layernorm.weight"])
kv = x @ deq("kv_a_proj_with_mqa").T
ref = [qa @ deq("q_b_proj").T, rms(kv[:, :512], weights[L + "kv_a_layernorm.weight"]), kv[:, 512:]]
ok = True
for name, g, r_ in zip(("q", "kv_c (normed)", "k_pe"), got, ref):
    err = rel_error(g, r_)
    ok &= err < 1e-5
    print(f"{name:14s} shape {tuple(g.shape)}: relative error vs float64 {err:.2e}")
print("[SUCCESS] host output matches the float64 reference" if ok else "[FAILED]")
sys.exit(0 if ok else 1)
