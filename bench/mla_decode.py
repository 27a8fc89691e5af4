"""Host decode of the real DeepSeek-V3 attention block (one layer, batch 1)
over 4096 cached tokens: the absorbed and the naive MLA form side by side.

The `decode` entry of examples/mla_block/graph.mlir.in (FP8 weights, bf16
hidden and bf16 latent cache as session state) is decomposed twice with
`dsv3-opt --dsv3-decompose-mla=form=absorbed|naive` and compiled for host.
Both modules are loaded into one session, so they share the cache; it is
filled with 4096 rows of realistic data through `session.write_state` (the
normalised latent and rotated rope key that the block's own kv_a_proj /
kv_a_layernorm / YaRN rope give for random hidden states), then decode runs
at start_pos 4096 (kv_len 4097). Prints best-of-N times, the agreement of the
two forms and of each with float64, and the bytes/FLOPs each form needs per
step, derived from the shapes.

  DSV3_BIN=build/bin .venv/bin/python bench/mla_decode.py [--runs 3] [--cached 4096]

Recorded on 2 December 2026 (2 cores, quiet; f32 FMA peak 268 GFLOP/s in the same run;
weights 187.16 MB, cache 4.72 MB, naive K/V 268.50 MB bf16, counted written + read), with the
host strategies for latent attention (scores in 2-row x 6-head register tiles, the weighted sum
in key blocks of 256) and the absorbed heads, and the FP8 linear in 2-row tiles:

  form        best ms   MB/step    GB/s  GFLOP/step  GFLOP/s  / peak  err vs f64  bf16 model
  absorbed       16.9     191.9   11.37       1.515    89.79   0.335    7.16e-03    7.15e-03
  naive        1353.0     728.9    0.54     138.149   102.10   0.381    6.09e-03    6.08e-03

On the same machine the absorbed form took 342 ms per step with the op definitions' loops (on 1
December's machine 700 ms), 36.1 ms with the first latent-attention strategy alone, 24.0 ms with
the absorbed-heads strategy, 20.5 ms with the FP8 linear's 2-row tiles and 18.7 ms with the
scores' 2-row tiles.

"err vs f64" is against float64 over the same bf16 cache rows; "bf16 model" is that computation
rounded to bf16 where each form's graph rounds (the forms round at different points, hence their
6e-3 difference). The naive form's time is kv_b_proj over all 4097 cache rows (137 GFLOP). Before
the last two changes a profile of the absorbed step (perf) had 30 % in the scores, 26 % in the
FP8 projections (bound by reading 187 MB of weights), 18 % in the weighted sum, 10 % in the
absorbed-head products and the rest in the softmax and small ops.
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
sys.path.insert(0, os.path.join(root, "examples", "mla_block"))
from dsv3_testing import ml_dtypes, np, quantize_ref, rel_error, save_safetensors, tool  # noqa: E402
import dsv3rt  # noqa: E402
from _fma_peak import fma_peak_gflops  # noqa: E402
import reference as ref  # noqa: E402  (float64 MLA of docs/semantics.md §7-§10, YaRN rope)

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--runs", type=int, default=3, help="timed decode calls per form (best is kept)")
p.add_argument("--cached", type=int, default=4096, help="cached tokens before the step")
p.add_argument("--max-seq-len", type=int, default=0, help="L (default cached + 1)")
p.add_argument("--forms", default="absorbed,naive")
p.add_argument("--out", default="", help="work directory (default: a new temp dir)")
p.add_argument("--seed", type=int, default=0)
args = p.parse_args()
T0 = args.cached
L = args.max_seq_len or T0 + 1
assert L >= T0 + 1
forms = args.forms.split(",")
out = args.out or tempfile.mkdtemp(prefix="dsv3-mla-decode-")
os.makedirs(out, exist_ok=True)
c = ref.V3
H, C, R, nope, V, D, QR = (c["heads"], c["kv_lora_rank"], c["rope"], c["nope"], c["v"],
                           c["hidden"], c["q_lora_rank"])
PFX = "model.layers.0.self_attn."
C_KV, K_PE = PFX + "kv_cache.c_kv", PFX + "kv_cache.k_pe"
print(f"V3 attention block, layer 0, batch 1: decode 1 token at start_pos {T0} over {T0} cached "
      f"tokens (kv_len {T0 + 1}), max_seq_len L={L}; host, {os.cpu_count()} cores; work dir {out}")

# ---- weights: same recipe as examples/mla_block/demo.py ----
rng = np.random.default_rng(args.seed)
SHAPES = {"q_a_proj": (QR, D), "q_b_proj": (H * (nope + R), QR), "kv_a_proj_with_mqa": (C + R, D),
          "kv_b_proj": (H * (nope + V), C), "o_proj": (D, H * V)}
weights = {}
for name, (n, k) in SHAPES.items():
    w = rng.standard_normal((n, k), np.float32) * np.float32(k ** -0.5)
    w *= np.exp(rng.uniform(-0.5, 0.5, (n, 1))).astype(np.float32)
    q, s, _ = quantize_ref(w, [128, 128])
    weights[PFX + name + ".weight"], weights[PFX + name + ".weight_scale_inv"] = q, s
    del w
for name, d in {"q_a_layernorm": QR, "kv_a_layernorm": C}.items():
    weights[PFX + name + ".weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(ml_dtypes.bfloat16)
wfile = os.path.join(out, "weights.safetensors")
save_safetensors(wfile, weights)
W = {n: ref.dequantize(weights[PFX + n + ".weight"], weights[PFX + n + ".weight_scale_inv"])
     for n in SHAPES}
for n in ("q_a_layernorm", "kv_a_layernorm"):
    W[n] = weights[PFX + n + ".weight"].astype(np.float64)

# ---- the cached rows: what kv_a_proj -> kv_a_layernorm / YaRN rope write
# for T0 random hidden states at positions 0..T0-1 (bf16, as in the cache) ----
t0 = time.perf_counter()
xs = rng.standard_normal((T0 + 1, D)).astype(ml_dtypes.bfloat16)
kv = np.empty((T0, C + R), np.float64)
for b in range(0, T0, 512):  # f32 GEMM in chunks, float64 result
    kv[b:b + 512] = xs[b:b + 512].astype(np.float32) @ W["kv_a_proj_with_mqa"].T.astype(np.float32)
cache_c = np.zeros((1, L, C), ml_dtypes.bfloat16)
cache_k = np.zeros((1, L, R), ml_dtypes.bfloat16)
cache_c[0, :T0] = ref.rms_norm(kv[:, :C], W["kv_a_layernorm"], c["eps"]).astype(np.float32)
cache_k[0, :T0] = ref.rope_interleaved(kv[:, C:], np.arange(T0)).astype(np.float32)
del kv
x_new = xs[T0:T0 + 1].reshape(1, 1, D)
print(f"cache data: {T0} rows, c_kv rms {np.sqrt(np.mean(cache_c[0, :T0].astype(np.float32) ** 2)):.2f}"
      f", k_pe rms {np.sqrt(np.mean(cache_k[0, :T0].astype(np.float32) ** 2)):.2f} "
      f"[{time.perf_counter() - t0:.1f} s]")

# ---- compile: dsv3-opt decomposes, dsv3-compile builds the host module ----
with open(os.path.join(root, "examples", "mla_block", "graph.mlir.in")) as f:
    template = f.read()
decode_src = "func.func @" + next(b for b in template.split("func.func @")[1:]
                                  if b.startswith("decode("))
gpath = os.path.join(out, "decode.mlir")
with open(gpath, "w") as f:
    f.write(decode_src.replace("@L@", str(L)))
modules = {}
for form in forms:
    dec, so = os.path.join(out, f"decode.{form}.mlir"), os.path.join(out, f"decode.{form}.so")
    t0 = time.perf_counter()
    subprocess.run([tool("dsv3-opt"), gpath, f"--dsv3-decompose-mla=form={form}", "-o", dec],
                   check=True)
    subprocess.run([tool("dsv3-compile"), dec, "--target=host", "-o", so], check=True)
    print(f"compile {form}: {time.perf_counter() - t0:.1f} s -> {so}")
    modules[form] = so

session = dsv3rt.Session("host")
loaded = {}
for form, so in modules.items():
    loaded[form] = session.load(so)
    loaded[form].bind([wfile])
states = {s.name: s for s in session.states()}
kv_bytes = sum(np.dtype(dsv3rt._numpy_dtype(s.dtype)).itemsize * int(np.prod(s.shape[2:]))
               for s in states.values())
print("states: " + ", ".join(f"{s.name} {s.dtype}{list(s.shape)}" for s in states.values())
      + f" -> KV cache {kv_bytes} bytes per token per layer (docs/semantics.md §10.2: 1152)")
session.write_state(C_KV, cache_c)
session.write_state(K_PE, cache_k)


def i64(*v):
    return np.array(v, np.int64)


results = {}
for form, m in loaded.items():
    best, o = float("inf"), None
    for _ in range(args.runs):
        t = time.perf_counter()
        (o,) = m.call("decode", x_new, i64(T0).reshape(1, 1), i64(T0), i64(T0 + 1))
        best = min(best, time.perf_counter() - t)
    results[form] = (best, o[0, 0].astype(np.float64))
    print(f"decode {form}: best of {args.runs}: {best * 1e3:.1f} ms", flush=True)
after_c = session.read_state(C_KV)
row_ok = not np.array_equal(after_c[0, T0].view(np.uint16), cache_c[0, T0].view(np.uint16))
same_rest = np.array_equal(after_c[0, :T0].view(np.uint16), cache_c[0, :T0].view(np.uint16))

# ---- float64 reference of this step over the same (bf16) cache rows, and
# the bf16 error model of each form: the same computation rounded to bf16
# where that form's graph rounds (every op result has hidden's type, bf16) ----
def step(form, rounding):
    r = ref.bf16 if rounding else (lambda v: v)
    x64 = x_new[0].astype(np.float64)
    cq = r(ref.rms_norm(r(x64 @ W["q_a_proj"].T), W["q_a_layernorm"], c["eps"]))
    q = r(cq @ W["q_b_proj"].T).reshape(H, nope + R)
    q_pe = r(ref.rope_interleaved(q[None, :, nope:], [T0])[0])
    kvn = r(x64 @ W["kv_a_proj_with_mqa"].T)
    c_all = np.concatenate([cache_c[0, :T0].astype(np.float64),
                            r(ref.rms_norm(kvn[:, :C], W["kv_a_layernorm"], c["eps"]))])
    k_all = np.concatenate([cache_k[0, :T0].astype(np.float64),
                            r(ref.rope_interleaved(kvn[:, C:], [T0]))])
    if form == "absorbed":  # docs/semantics.md §10.4; kv_b dequantized to bf16 as in the
        # graph and DeepSeek's reference
        wkvb = r(W["kv_b_proj"]).reshape(H, nope + V, C)
        q_abs = r(np.einsum("hd,hdc->hc", q[:, :nope], wkvb[:, :nope]))
        s = (q_abs @ c_all.T + q_pe @ k_all.T) * ref.softmax_scale()
    else:  # docs/semantics.md §10.3: K_nope and V of every row expanded by kv_b_proj (bf16 result)
        kvb = r(c_all @ W["kv_b_proj"].T).reshape(-1, H, nope + V)
        s = (np.einsum("hd,thd->ht", q[:, :nope], kvb[..., :nope], optimize=True) + q_pe @ k_all.T) \
            * ref.softmax_scale()
    pr = np.exp(s - s.max(-1, keepdims=True))
    pr /= pr.sum(-1, keepdims=True)
    if form == "absorbed":
        o = r(np.einsum("hc,hvc->hv", r(pr @ c_all), wkvb[:, nope:]))
    else:
        o = r(np.einsum("ht,thv->hv", pr, kvb[..., nope:], optimize=True))
    return r(o.reshape(H * V) @ W["o_proj"].T), pr


t0 = time.perf_counter()
o_ref, pr = step("absorbed", False)
o_model = {form: step(form, True)[0] for form in results}
print(f"float64 reference + bf16 error models: {time.perf_counter() - t0:.1f} s; attention "
      f"sharpness: mean max softmax weight {pr.max(-1).mean():.3f}, mean entropy "
      f"{np.mean(-(pr * np.log(pr + 1e-300)).sum(-1)):.2f} nats (uniform: {np.log(T0 + 1):.2f})")

# ---- bytes and FLOPs each form needs per step, from the shapes ----
n_kv = T0 + 1  # rows attended: the cached ones and the one written this step
w_fp8 = sum(n * k for n, k in SHAPES.values())  # FP8 weight bytes
w_scales = sum(4 * -(-n // 128) * -(-k // 128) for n, k in SHAPES.values())
w_norm = 2 * (QR + C)
W_BYTES = w_fp8 + w_scales + w_norm
CACHE = n_kv * (C + R) * 2  # bf16 c_kv + k_pe rows read by the attention
KV_EXP = n_kv * H * (nope + V) * 2  # K_nope and V per head, bf16 (the graph's element type)
proj_flops = 2 * w_fp8  # one token through every projection (incl. kv_b once in absorbed)
flops = {
    # q_abs = W_UK^T q_nope and o = W_UV lat are the kv_b_proj weight's 2*H*(nope+V)*C,
    # already in proj_flops; scores over [c_kv | k_pe] (576) and P*c_kv (512) per head
    "absorbed": proj_flops + 2 * H * n_kv * (C + R + C),
    # kv_b_proj over every attended row (K_nope, V for all heads), then
    # scores over [k_nope | k_pe] (192) and P*V (128) per head; kv_b is not
    # applied to the new token separately (it is one of the n_kv rows)
    "naive": proj_flops - 2 * H * (nope + V) * C + 2 * n_kv * H * (nope + V) * C
             + 2 * H * n_kv * (nope + R + V),
}
bytes_ = {"absorbed": W_BYTES + CACHE, "naive": W_BYTES + CACHE + 2 * KV_EXP}
print(f"""
bytes per step (derived from the shapes; n = kv_len = {n_kv} rows):
  weights      {W_BYTES / 1e6:8.2f} MB  FP8 q_a/q_b/kv_a/kv_b/o_proj {w_fp8 / 1e6:.2f} MB + f32 block
                           scales {w_scales / 1e3:.1f} kB + bf16 norms {w_norm / 1e3:.1f} kB, each read once
  latent cache {CACHE / 1e6:8.2f} MB  n x (512 + 64) x 2 B (bf16 c_kv + k_pe); + 1152 B written
  naive K/V    {KV_EXP / 1e6:8.2f} MB  n x 128 heads x (128 + 128) x 2 B, bf16 (the graph's
                           element type; {2 * KV_EXP / 1e6:.1f} MB if f32): written once and read once
                           by the attention, so counted twice
  absorbed = weights + cache; naive = weights + cache + 2 x K/V. Not counted: the graph's own
  temporaries (absorbed: kv_b dequantized to bf16, {H * (nope + V) * C * 2 / 1e6:.1f} MB written + read;
  naive: the [L, H, 256] -> [H, L, 256] transpose and the k_pe broadcast to 128 heads), and
  that the naive form projects all L = {L} cache rows through kv_b_proj (the absorbed form's
  attention reads only the rows below kv_len).
FLOPs per step: 2 x FP8 weight elements (one token through every projection; absorbed: kv_b is
  W_UK^T q_nope and W_UV lat) + attention 2 x 128 x n x (576 + 512) absorbed; naive: kv_b over all
  n rows (2 x n x 512 x 32768) + 2 x 128 x n x (192 + 128). (The naive graph computes 256-wide
  scores [q_nope | 0].[K_nope | V] and P.[K_nope | V]; that extra is not counted.)""")

src = np.ones(256 << 20, np.uint8)  # 268 MB, beyond the caches
dst = np.empty_like(src)
mc = float("inf")
for _ in range(3):
    t = time.perf_counter()
    np.copyto(dst, src)
    mc = min(mc, time.perf_counter() - t)
print(f"memcpy on this machine (numpy copyto of {src.nbytes / 1e6:.0f} MB, best of 3): "
      f"{src.nbytes / mc / 1e9:.2f} GB/s")
del src, dst
peak = fma_peak_gflops(os.cpu_count())
print(f"f32 FMA peak on this machine ({os.cpu_count()} threads, bench/_fma_peak.py): "
      f"{peak:.1f} GFLOP/s")
print(f"\n{'form':9s} {'best ms':>9s} {'MB/step':>9s} {'GB/s':>7s} {'GFLOP/step':>11s} "
      f"{'GFLOP/s':>8s} {'/ peak':>7s} {'err vs f64':>11s} {'bf16 model':>11s}")
for form, (best, o) in results.items():
    print(f"{form:9s} {best * 1e3:9.1f} {bytes_[form] / 1e6:9.1f} "
          f"{bytes_[form] / best / 1e9:7.2f} {flops[form] / 1e9:11.3f} "
          f"{flops[form] / best / 1e9:8.2f} {flops[form] / best / 1e9 / peak:7.3f} "
          f"{rel_error(o, o_ref):11.2e} {rel_error(o_model[form], o_ref):11.2e}")
if len(results) == 2:
    (a, oa), (b, ob) = results["absorbed"], results["naive"]
    print(f"absorbed vs naive: relative difference {rel_error(oa, ob):.2e} (their bf16 error "
          f"models: {rel_error(o_model['absorbed'], o_model['naive']):.2e}); naive/absorbed time "
          f"{b / a:.2f}x, bytes {bytes_['naive'] / bytes_['absorbed']:.1f}x, FLOPs "
          f"{flops['naive'] / flops['absorbed']:.1f}x")
print(f"KV cache: {kv_bytes} bytes per token per layer (module metadata states)")
print(f"cache row {T0} written by the step: {row_ok}; rows 0..{T0 - 1} unchanged: {same_rest}")
