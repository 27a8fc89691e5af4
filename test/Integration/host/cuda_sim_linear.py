"""The cuda strategy's decode-linear kernel (dsv3-gpu-decode-linear), run on
the host with its threads serialized phase by phase (--target=cuda-sim),
against float64 references from the same quantized inputs (relative error <
1e-5, f32 accumulation), and the same graph on --target=host."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
K = 7168
W = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight"


def linear(name, m, n, wtype, scale=None, ytype="f32"):
    s = f" weight_scale_inv(%s : tensor<{scale}xf32>)" if scale else ""
    sp = f'\n  %s = dsv3.parameter "{name}_scale_inv" : tensor<{scale}xf32>' if scale else ""
    return f"""
func.func @{name.replace('.', '_')}_{m}(%x: tensor<{m}x{K}xbf16>) -> tensor<{m}x{n}x{ytype}> {{
  %w = dsv3.parameter "{name}" : tensor<{n}x{K}x{wtype}>{sp}
  %y = dsv3.linear %x, %w{s}
      : (tensor<{m}x{K}xbf16>, tensor<{n}x{K}x{wtype}>) -> tensor<{m}x{n}x{ytype}>
  return %y : tensor<{m}x{n}x{ytype}>
}}"""


# kv_a_proj_with_mqa: 576 rows (a partial scale block; 72 blocks of 8 warps)
# at 1 and 4 tokens; a bf16 weight of 6 rows (blocks of 2 warps) with a bf16
# result; 16 tokens, the most the kernel takes.
N, NB = 576, 6
graph = (linear(W, 1, N, "f8E4M3FN", "5x56") + linear(W, 4, N, "f8E4M3FN", "5x56")
         + linear(W, 16, N, "f8E4M3FN", "5x56") + linear("dense.weight", 3, NB, "bf16", ytype="bf16"))
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)

# The kernel replaces every one of these linears (one launch each on cuda).
gpu = run(["dsv3-compile", f"{out}/graph.mlir", "--target=cuda", "--emit=gpu", "-o", "-"])
launches = gpu.count("gpu.launch_func")
check(launches == 4, f"one kernel per linear on cuda ({launches})")

rng = np.random.default_rng(11)
w = (rng.standard_normal((N, K)) * np.exp(rng.uniform(-3, 3, (N, 1)))).astype(np.float32)
q, s, _ = quantize_ref(w, [128, 128])
wb = rng.standard_normal((NB, K)).astype(ml_dtypes.bfloat16)
x = (rng.standard_normal((16, K)) * 3).astype(ml_dtypes.bfloat16)
save_safetensors(f"{out}/w.safetensors", {W: q, W + "_scale_inv": s, "dense.weight": wb})
save_safetensors(f"{out}/x.safetensors", {f"x{m}": x[:m].copy() for m in (1, 3, 4, 16)})

for target in ("cuda-sim", "host"):
    run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/{target}.so"])


def call(target, fn, m):
    run(["dsv3-run", f"{out}/{target}.so", f"--function={fn}", f"--parameters={out}/w.safetensors",
         f"--input=@{out}/x.safetensors:x{m}", f"--output=@{out}/{fn}.npy"])
    return np.load(f"{out}/{fn}.npy")


x64 = x.astype(np.float64)
sb = np.repeat(np.repeat(s.astype(np.float64), 128, 0), 128, 1)[:N, :K]
ref = x64 @ (q.astype(np.float64) * sb).T
fn = W.replace(".", "_")
for m in (1, 4, 16):
    sim = call("cuda-sim", f"{fn}_{m}", m)
    err = rel_error(sim, ref[:m])
    print(f"FP8 {m} x {N} x {K}: cuda-sim relative error {err:.3e}")
    check(err < 1e-5, f"cuda-sim FP8 decode linear, {m} tokens, matches float64 to 1e-5")
    host = call("host", f"{fn}_{m}", m)
    check(rel_error(sim, host.astype(np.float64)) < 1e-5, f"cuda-sim and host agree, {m} tokens")

# bf16 result: one rounding of the f32 sum; the reference rounds the float64
# sum, so they may differ by one bf16 ulp where the f32 sum straddles a tie.
ref_b = x64[:3] @ wb.astype(np.float64).T
# np.load gives a bf16 .npy as a void array.
sim_b = call("cuda-sim", "dense_weight_3", 3).view(ml_dtypes.bfloat16).astype(np.float64)
ulp = np.abs(ref_b) * 2.0**-8  # at most one bf16 ulp (8 significant bits)
bad = np.abs(sim_b - ref_b) > ulp
print(f"bf16 3 x {NB} x {K}: {bad.sum()} elements off by more than one bf16 ulp")
check(not bad.any(), "cuda-sim bf16 linear within one bf16 ulp of float64")
