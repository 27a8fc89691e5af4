"""Independent float64 numpy reference of the DeepSeek-V3 MoE layer (docs/semantics.md
§11.2, §12.1 noaux_tc router, §5.5 128x128 dequantization), used by demo.py and
bench/moe_layer.py. Reads weights through gen_weights.Weights and dequantizes
only the experts it routes to."""
import numpy as np

import gen_weights as gw

P = gw.PREFIX + "."


def route(x, gate_w, bias):
    """x [T, H] float64, gate_w [E, H] float64, bias [E]. Returns
    (ids [T, K] in rank order, weights [T, K], group margin, expert margin)."""
    t = x.shape[0]
    u = x @ gate_w.T                                                         # logits [T, E]
    s = 1 / (1 + np.exp(-u))                                                 # sigmoid
    sel = s + bias                                                           # selection only
    gsz = gw.E // gw.N_GROUP
    grp = np.sort(sel.reshape(t, gw.N_GROUP, gsz), -1)[..., -2:].sum(-1)     # top-2 sum per group
    # Ranking with the documented tie order: higher score first, then lower index.
    gorder = np.argsort(-grp, -1, kind="stable")
    masked = np.full_like(sel, -np.inf)                                      # rejected groups: -inf
    for i in range(t):
        for g in gorder[i, : gw.TOPK_GROUP]:
            masked[i, g * gsz:(g + 1) * gsz] = sel[i, g * gsz:(g + 1) * gsz]
    order = np.argsort(-masked, -1, kind="stable")
    ids = order[:, : gw.K]                                                  # descending score
    w = np.take_along_axis(s, ids, -1)                                       # UNBIASED scores
    w = w / w.sum(-1, keepdims=True) * gw.SCALE                              # renormalise, x2.5
    # Distance from a tie (an f32 router could only differ at a near-tie).
    gs = np.take_along_axis(grp, gorder, -1)
    ms = np.take_along_axis(masked, order, -1)
    return (ids, w, float((gs[:, gw.TOPK_GROUP - 1] - gs[:, gw.TOPK_GROUP]).min()),
            float((ms[:, gw.K - 1] - ms[:, gw.K]).min()))


def route_from_file(W, x):
    return route(x, gw.bf16_to_f64(W.raw_tensor(P + "gate.weight")),
                 np.asarray(W.raw_tensor(P + "gate.e_score_correction_bias"), np.float64))


def layer(W, x, ids, w, dtype=np.float64):
    """y = Shared(x) + sum_k w[t,k] FFN_ids[t,k](x_t), FFN = SwiGLU (docs/semantics.md §11.2),
    in `dtype` (float64 for the reference; float32 as a second f32 data point)."""
    def ffn(name, xs):
        g = xs @ W.dequant(name + ".gate_proj").astype(dtype, copy=False).T
        v = xs @ W.dequant(name + ".up_proj").astype(dtype, copy=False).T
        return (g / (1 + np.exp(-g)) * v) @ W.dequant(name + ".down_proj").astype(dtype, copy=False).T

    x = x.astype(dtype)
    y = ffn(P + "shared_experts", x)                                         # never scaled
    for e in np.unique(ids):                                                 # routed experts only
        tok, slot = np.nonzero(ids == e)
        y[tok] += w[tok, slot].astype(dtype)[:, None] * ffn(P + f"experts.{e}", x[tok])
    return y
