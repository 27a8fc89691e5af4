"""Float64 numpy reference of one DeepSeek-V3 attention block (docs/semantics.md §7-§10),
independent of dsv3: written from docs/semantics.md, not from the compiler's code.

`mla_naive` is the naive (MHA) form of docs/semantics.md §10.3 over a whole sequence:
K and V expanded per head from the latent with kv_b_proj's interleaved rows
(docs/semantics.md §3.2: rows [h][k_nope 128 | v 128]), the rope parts rotated in the
checkpoint's interleaved layout with YaRN (docs/semantics.md §8.2, §9), softmax scale
(qk_nope + qk_rope)^-0.5 * m^2, causal mask t <= p (docs/semantics.md §10.5).

`mla_absorbed_rounded` is the error model, not a reference: the absorbed
form (docs/semantics.md §10.4) in float64 that rounds to bf16 exactly where the compiled
graph's element type forces it (dsv3.mla with bf16 hidden: every op result
and the caches are bf16, each op accumulates in f32 and rounds once). Which
roundings to apply is a parameter, so one can measure what each contributes.
"""
import math

import ml_dtypes
import numpy as np

# V3 (config_671B.json + ModelArgs defaults = HF config.json rope_scaling).
V3 = dict(hidden=7168, heads=128, q_lora_rank=1536, kv_lora_rank=512, nope=128, rope=64,
          v=128, eps=1e-6, theta=10000.0, factor=40.0, original_max_position_embeddings=4096,
          beta_fast=32.0, beta_slow=1.0, mscale=1.0, mscale_all_dim=1.0)

# The graph's bf16 rounding points, in dataflow order (absorbed form).
ROUNDINGS = [
    ("q_a", "q_a_proj output"),
    ("q_a_norm", "q_a_layernorm output"),
    ("q", "q_b_proj output (q_nope and q_pe)"),
    ("q_pe_rope", "rotated q_pe"),
    ("kv_a", "kv_a_proj_with_mqa output"),
    ("c_kv", "kv_a_layernorm output = latent cache row"),
    ("k_pe_rope", "rotated k_pe = rope cache row"),
    ("w_kv_b", "kv_b_proj dequantized to bf16 (W_UK, W_UV)"),
    ("q_abs", "absorbed query W_UK^T q_nope"),
    ("latent_out", "latent attention output sum_t P c_t"),
    ("attn_v", "W_UV applied (o per head)"),
    ("out", "o_proj output"),
]


def dequantize(q, s):
    """FP8 weight [N, K] with f32 128x128 block scales -> float64 (exact)."""
    n, k = q.shape
    s = np.repeat(np.repeat(s.astype(np.float64), 128, 0), 128, 1)[:n, :k]
    return q.astype(np.float64) * s


def yarn_frequencies(c=V3):
    """f'_i, i = 0 .. rope/2 - 1 (docs/semantics.md §8.1, §9.1), float64."""
    d, theta = c["rope"], c["theta"]
    f = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    if not c.get("factor"):
        return f

    def corr(r):
        return d * math.log(c["original_max_position_embeddings"] / (2 * math.pi * r)) / (
            2 * math.log(theta))

    low = max(math.floor(corr(c["beta_fast"])), 0)
    high = min(math.ceil(corr(c["beta_slow"])), d - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(d // 2) - low) / (high - low), 0, 1)
    return f * ((1 - ramp) + ramp / c["factor"])


def mscale(s, m):
    return 1.0 if s <= 1 or m == 0 else 0.1 * m * math.log(s) + 1.0


def softmax_scale(c=V3):
    """(qk_nope + qk_rope)^-0.5 * m(factor, mscale_all_dim)^2
    (docs/semantics.md §9.3, §15.1)."""
    m = mscale(c["factor"], c["mscale_all_dim"]) if c.get("factor") else 1.0
    return (c["nope"] + c["rope"]) ** -0.5 * m * m


def rope_interleaved(x, pos, c=V3):
    """Rotates pairs (x_2i, x_2i+1) of the last dim by p * f'_i; x [..., T, (H,) D],
    pos [T] (docs/semantics.md §8.2, interleaved layout)."""
    f = yarn_frequencies(c)
    ang = np.asarray(pos, np.float64)[:, None] * f[None, :]  # [T, D/2]
    if x.ndim == 3:  # [T, H, D]
        ang = ang[:, None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., 0::2], x[..., 1::2]
    y = np.empty_like(x)
    y[..., 0::2] = a * cos - b * sin
    y[..., 1::2] = a * sin + b * cos
    return y


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps) * w.astype(np.float64)


def mla_naive(x, pos, W, c=V3):
    """Output [T, hidden] of T tokens at positions pos (one sequence from
    position 0, causal), with float64 weights W (dict of dequantized
    projections and norms, short names). Also returns the latent cache rows
    (c_kv [T, 512], k_pe [T, 64]) it attends over."""
    H, nope, R, V, C = c["heads"], c["nope"], c["rope"], c["v"], c["kv_lora_rank"]
    T = x.shape[0]
    cq = rms_norm(x @ W["q_a_proj"].T, W["q_a_layernorm"], c["eps"])
    q = (cq @ W["q_b_proj"].T).reshape(T, H, nope + R)  # rows [h][nope | rope]
    q_nope, q_pe = q[..., :nope], rope_interleaved(q[..., nope:], pos, c)
    kv = x @ W["kv_a_proj_with_mqa"].T  # [c_kv 512 | k_pe 64]
    c_kv = rms_norm(kv[:, :C], W["kv_a_layernorm"], c["eps"])
    k_pe = rope_interleaved(kv[:, C:], pos, c)
    wkvb = W["kv_b_proj"].reshape(H, nope + V, C)  # [h][k_nope | v] per head
    k_nope = np.einsum("hdc,tc->htd", wkvb[:, :nope], c_kv)  # [H, T, nope]
    v = np.einsum("hdc,tc->htd", wkvb[:, nope:], c_kv)  # [H, T, V]
    s = (np.einsum("shd,htd->hst", q_nope, k_nope)
         + np.einsum("shr,tr->hst", q_pe, k_pe)) * softmax_scale(c)
    p = np.asarray(pos)
    s = np.where(np.arange(T)[None, None, :] <= p[None, :, None], s, -np.inf)
    s = np.exp(s - s.max(-1, keepdims=True))
    P = s / s.sum(-1, keepdims=True)
    o = np.einsum("hst,htd->shd", P, v).reshape(T, H * V)
    return o @ W["o_proj"].T, c_kv, k_pe


def bf16(x):
    return np.asarray(x).astype(np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)


def mla_absorbed_rounded(x, pos, W, rounds, c=V3):
    """The absorbed form of docs/semantics.md §10.4 in float64, rounding to bf16 at the
    points named in `rounds` (subset of ROUNDINGS' keys). With rounds = {}
    it equals mla_naive up to float64 round-off."""
    r = (lambda key, v: bf16(v) if key in rounds else v)
    H, nope, R, V, C = c["heads"], c["nope"], c["rope"], c["v"], c["kv_lora_rank"]
    T = x.shape[0]
    qa = r("q_a", x @ W["q_a_proj"].T)
    cq = r("q_a_norm", rms_norm(qa, W["q_a_layernorm"], c["eps"]))
    q = r("q", cq @ W["q_b_proj"].T).reshape(T, H, nope + R)
    q_nope, q_pe = q[..., :nope], r("q_pe_rope", rope_interleaved(q[..., nope:], pos, c))
    kv = r("kv_a", x @ W["kv_a_proj_with_mqa"].T)
    c_kv = r("c_kv", rms_norm(kv[:, :C], W["kv_a_layernorm"], c["eps"]))
    k_pe = r("k_pe_rope", rope_interleaved(kv[:, C:], pos, c))
    wkvb = r("w_kv_b", W["kv_b_proj"]).reshape(H, nope + V, C)
    q_abs = r("q_abs", np.einsum("shd,hdc->shc", q_nope, wkvb[:, :nope]))
    s = (np.einsum("shc,tc->sht", q_abs, c_kv)
         + np.einsum("shr,tr->sht", q_pe, k_pe)) * softmax_scale(c)
    p = np.asarray(pos)
    s = np.where(np.arange(T)[None, None, :] <= p[:, None, None], s, -np.inf)
    s = np.exp(s - s.max(-1, keepdims=True))
    P = s / s.sum(-1, keepdims=True)
    lat = r("latent_out", np.einsum("sht,tc->shc", P, c_kv))
    o = r("attn_v", np.einsum("shc,hvc->shv", lat, wkvb[:, nope:])).reshape(T, H * V)
    return r("out", o @ W["o_proj"].T), c_kv, k_pe
