"""The cuda strategy's split-KV decode attention (dsv3-gpu-latent-attention) at
V3's sizes (128 heads, kv_lora_rank 512, rope 64), run on the host by
--target=cuda-sim, against float64: two sequences of two queries each (an
MTP verification chunk) over a 1024-row cache in key tiles of 256, with the
log-sum-exp result. Sequence 0 sees 701 and 702 keys (tiles 0-1 whole, tile 2
partly, tile 3 nothing); sequence 1 sees 1 and 2 keys (tiles 1-3 nothing).
Rows at or past kv_len hold NaN, which must not reach any output."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
B, S, H, C, R, L = 2, 2, 128, 512, 64, 1024
m = 0.1 * 1.0 * math.log(40.0) + 1
SCALE = 192 ** -0.5 * m * m


def ty(*shape, dt="bf16"):
    return "tensor<" + "x".join(map(str, shape)) + f"x{dt}>"


q, qp, ck, kp = ty(B, S, H, C), ty(B, S, H, R), ty(B, L, C), ty(B, L, R)
iv, o, lse = ty(B, dt="i64"), ty(B, S, H, C, dt="f32"), ty(B, S, H, dt="f32")
graph = f"""
func.func @attend(%q: {q}, %qp: {qp}, %c: {ck}, %k: {kp}, %start: {iv}, %len: {iv}) -> ({o}, {lse}) {{
  %o, %lse = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale({SCALE!r})
      : {q}, {qp}, {ck}, {kp}, {iv}, {iv} -> {o}, {lse}
  return %o, %lse : {o}, {lse}
}}
"""
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)

# Two kernels on cuda: the tiles, then the merge.
gpu = run(["dsv3-compile", f"{out}/graph.mlir", "--target=cuda", "--emit=gpu", "-o", "-"])
launches = [ln for ln in gpu.splitlines() if "gpu.launch_func" in ln]
check(len(launches) == 2 and "blocks in (%c4, %c4, %c8)" in launches[0],
      "two kernels: 4 key tiles x 4 queries x 8 head groups, then the merge")

rng = np.random.default_rng(23)
bf16 = ml_dtypes.bfloat16
qn = rng.standard_normal((B, S, H, C)).astype(bf16)
qpe = rng.standard_normal((B, S, H, R)).astype(bf16)
cache_c = rng.standard_normal((B, L, C)).astype(bf16)
cache_k = rng.standard_normal((B, L, R)).astype(bf16)
start, kv_len = np.array([700, 0]), np.array([702, 2])
for b in range(B):
    cache_c[b, kv_len[b]:] = np.nan
    cache_k[b, kv_len[b]:] = np.nan
save_safetensors(f"{out}/x.safetensors", {"q": qn, "qp": qpe, "c": cache_c, "k": cache_k,
                                          "start": start, "len": kv_len})
results = {}
for target in ("cuda-sim", "host"):
    run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/{target}.so"])
    run(["dsv3-run", f"{out}/{target}.so", "--function=attend"]
        + [f"--input=@{out}/x.safetensors:{n}" for n in ("q", "qp", "c", "k", "start", "len")]
        + [f"--output=@{out}/{target}_o.npy", f"--output=@{out}/{target}_lse.npy"])
    results[target] = (np.load(f"{out}/{target}_o.npy"), np.load(f"{out}/{target}_lse.npy"))

o_sim, lse_sim = results["cuda-sim"]
check(np.isfinite(o_sim).all() and np.isfinite(lse_sim).all(), "NaN in rows past kv_len does not leak")
ref = attention_ref(qn, qpe, cache_c, cache_k, start, kv_len, SCALE)
err = rel_error(o_sim, ref)
print(f"cuda-sim output relative error vs float64 {err:.3e}")
check(err < 1e-5, "cuda-sim split-KV attention matches float64 to 1e-5")
# lse: logsumexp of the visible scaled scores, in float64.
f64 = np.float64
sc = (np.einsum("bihc,btc->biht", qn.astype(f64), np.nan_to_num(cache_c.astype(f64)))
      + np.einsum("bihr,btr->biht", qpe.astype(f64), np.nan_to_num(cache_k.astype(f64)))) * SCALE
t, i = np.arange(L), np.arange(S)
vis = (t[None, None, :] <= start[:, None, None] + i[None, :, None]) & (t[None, None, :] < kv_len[:, None, None])
sc = np.where(vis[:, :, None, :], sc, -np.inf)
mx = sc.max(-1)
ref_lse = mx + np.log(np.exp(sc - mx[..., None]).sum(-1))
err = np.abs(lse_sim - ref_lse).max()
print(f"cuda-sim lse max abs error vs float64 {err:.3e}")
check(err < 1e-5, "cuda-sim lse matches float64 to 1e-5")
err = rel_error(o_sim, results["host"][0].astype(f64))
print(f"cuda-sim vs host relative difference {err:.3e}")
check(err < 1e-5, "cuda-sim and host agree")
