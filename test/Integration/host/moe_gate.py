"""dsv3.moe_gate / dsv3.expert_bias_update on host vs float64 references."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
# --target=cuda-sim: the cuda strategy's router (dsv3-gpu-moe-gate: the logits as a
# GEMV, then one block per token that ranks all experts), threads serialized.
target = "host"
for flag in sys.argv[2:]:
    if flag.startswith("--target="):
        target = flag.split("=", 1)[1]


def gate_fn(name, t, h, e, k, x_t="f32", w_t="f32", bias=True, **attrs):
    """An entry (x) -> (weights, ids) reading "<name>.weight" and, with
    bias, "<name>.e_score_correction_bias"."""
    b = (f' bias(%b : tensor<{e}xf32>)' if bias else "")
    pb = (f'  %b = dsv3.parameter "{name}.e_score_correction_bias" : tensor<{e}xf32>\n'
          if bias else "")
    a = " ".join(f"{key}" if val is True else f"{key}({val})" for key, val in attrs.items())
    return f"""
func.func @{name}(%x: tensor<{t}x{h}x{x_t}>) -> (tensor<{t}x{k}xf32>, tensor<{t}x{k}xi32>) {{
  %w = dsv3.parameter "{name}.weight" : tensor<{e}x{h}x{w_t}>
{pb}  %wt, %ids = dsv3.moe_gate %x, %w{b} {a}
      : (tensor<{t}x{h}x{x_t}>, tensor<{e}x{h}x{w_t}>) -> tensor<{t}x{k}xf32>, tensor<{t}x{k}xi32>
  return %wt, %ids : tensor<{t}x{k}xf32>, tensor<{t}x{k}xi32>
}}
"""


def ref_gate(x, w, bias, scoring, method, k, n_group, topk_group, norm, factor):
    """docs/semantics.md §12.1/§12.2 in float64, ties toward the lower group/expert index."""
    u = x.astype(np.float64) @ w.astype(np.float64).T
    if scoring == "sigmoid":
        s = 1 / (1 + np.exp(-u))
    else:
        s = np.exp(u - u.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
    sel = s + (0 if bias is None else bias.astype(np.float64))
    T, E = s.shape
    ws, ids = [], []
    for t in range(T):
        st = sel[t].copy()
        if method != "greedy" and topk_group < n_group:
            g = st.reshape(n_group, -1)
            gs = np.sort(g, -1)[:, ::-1]
            score = gs[:, :2].sum(-1) if method == "noaux_tc" else gs[:, 0]
            keep = sorted(range(n_group), key=lambda i: (-score[i], i))[:topk_group]
            mask = np.full(n_group, True)
            mask[keep] = False
            st = np.where(np.repeat(mask, E // n_group), -np.inf, st)
        idx = sorted(range(E), key=lambda i: (-st[i], i))[:k]
        wt = s[t, idx]
        if norm:
            wt = wt / wt.sum()
        ws.append(wt * factor)
        ids.append(idx)
    return np.array(ws), np.array(ids, np.int32)


fns, params, inputs = [], {}, {}
# 1. The bias only selects: logits [2, 1, 0, -1] (x = [1], H = 1, gate rows =
#    logits), bias [0, 0, 0.5, 0] -> experts {2, 0} from unbiased sigmoids.
for name, factor in [("bias_f1", 1.0), ("bias_f25", 2.5)]:
    fns.append(gate_fn(name, 1, 1, 4, 2, scoring_func="sigmoid", topk_method="noaux_tc",
                       top_k=2, norm_topk_prob=True, routed_scaling_factor=factor))
    params[f"{name}.weight"] = np.array([[2], [1], [0], [-1]], np.float32)
    params[f"{name}.e_score_correction_bias"] = np.array([0, 0, 0.5, 0], np.float32)
    inputs[name] = np.ones((1, 1), np.float32)
# 2. The factor applies without renormalisation.
fns.append(gate_fn("softmax16", 1, 1, 4, 2, bias=False, scoring_func="softmax",
                   topk_method="greedy", top_k=2, routed_scaling_factor=16.0))
params["softmax16.weight"] = np.array([[1], [2], [3], [4]], np.float32)
inputs["softmax16"] = np.ones((1, 1), np.float32)
# 3. Ties: 8 experts in 4 groups, keep 2, top-2, all logits 0 (x = 0), alone
#    and as row 5 of a 7-token batch whose other rows are random.
rng = np.random.default_rng(11)
H = 32
tie_w = rng.standard_normal((8, H)).astype(np.float32)
for name, t in [("tie1", 1), ("tie7", 7)]:
    fns.append(gate_fn(name, t, H, 8, 2, bias=False, scoring_func="sigmoid",
                       topk_method="noaux_tc", top_k=2, n_group=4, topk_group=2,
                       norm_topk_prob=True, routed_scaling_factor=2.5))
    params[f"{name}.weight"] = tie_w
inputs["tie1"] = np.zeros((1, H), np.float32)
tie7 = rng.standard_normal((7, H)).astype(np.float32)
tie7[5] = 0
inputs["tie7"] = tie7
# 4. Random V3-style router in bf16 (16 experts, 4 groups, keep 2, top-4).
fns.append(gate_fn("v3", 9, 64, 16, 4, x_t="bf16", w_t="bf16", scoring_func="sigmoid",
                   topk_method="noaux_tc", top_k=4, n_group=4, topk_group=2,
                   norm_topk_prob=True, routed_scaling_factor=2.5))
params["v3.weight"] = (rng.standard_normal((16, 64)) * 0.2).astype(ml_dtypes.bfloat16)
params["v3.e_score_correction_bias"] = (rng.standard_normal(16) * 0.1).astype(np.float32)
inputs["v3"] = rng.standard_normal((9, 64)).astype(ml_dtypes.bfloat16)
# 5. Random V2-style router: softmax, max per group, no renormalisation, x16.
fns.append(gate_fn("v2", 9, 64, 16, 3, bias=False, scoring_func="softmax",
                   topk_method="group_limited_greedy", top_k=3, n_group=4, topk_group=2,
                   routed_scaling_factor=16.0))
params["v2.weight"] = (rng.standard_normal((16, 64)) * 0.2).astype(np.float32)
inputs["v2"] = rng.standard_normal((9, 64)).astype(np.float32)
# 6. Bias update: loads [3, 1, 0, 4] (mean 2) with gamma 0.001.
fns.append("""
func.func @bias_update(%ids: tensor<4x2xi32>) -> tensor<4xf32> {
  %b = dsv3.parameter "bias_update.bias" : tensor<4xf32>
  %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03) : (tensor<4x2xi32>, tensor<4xf32>) -> tensor<4xf32>
  return %nb : tensor<4xf32>
}
""")
params["bias_update.bias"] = np.array([0, 0.25, -0.5, 1], np.float32)
inputs["bias_update"] = np.array([[0, 0], [0, 1], [3, 3], [3, 3]], np.int32)

with open(f"{out}/graph.mlir", "w") as f:
    f.write("".join(fns))
save_safetensors(f"{out}/p.safetensors", params)
save_safetensors(f"{out}/x.safetensors", inputs)
run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/m.so"])


def call(fn, n_out=2):
    outs = [f"{out}/{fn}.{i}.npy" for i in range(n_out)]
    run(["dsv3-run", f"{out}/m.so", f"--function={fn}", f"--parameters={out}/p.safetensors",
         f"--input=@{out}/x.safetensors:{fn}"] + [f"--output=@{o}" for o in outs])
    return [np.load(o) for o in outs]


def ref_of(fn, **kw):
    b = params.get(f"{fn}.e_score_correction_bias")
    return ref_gate(inputs[fn], params[f"{fn}.weight"], b, **kw)


w, ids = call("bias_f1")
print("bias_f1", w, ids)
check(ids.tolist() == [[2, 0]], "the bias selects expert 2 over expert 1")
check(np.allclose(w, [[0.36210969, 0.63789031]], rtol=1e-6, atol=0),
      "weights come from the unbiased sigmoids, renormalised")
w, ids = call("bias_f25")
check(ids.tolist() == [[2, 0]] and np.allclose(w, [[0.90527422, 1.59472578]], rtol=1e-6, atol=0),
      "routed_scaling_factor 2.5 multiplies the renormalised weights")
w, ids = call("softmax16")
print("softmax16", w, ids)
check(ids.tolist() == [[3, 2]] and np.allclose(w, [[10.30262816, 3.79012509]], rtol=1e-6, atol=0),
      "the factor applies without renormalisation")
w1, ids1 = call("tie1")
print("tie1", w1, ids1)
check(ids1.tolist() == [[0, 1]] and w1.tolist() == [[1.25, 1.25]],
      "all-equal scores: groups {0, 1}, experts [0, 1], weights [1.25, 1.25]")
w7, ids7 = call("tie7")
check(ids7[5].tolist() == ids1[0].tolist() and w7[5].tolist() == w1[0].tolist(),
      "a tied token routes identically alone and as row 5 of a batch")
kw = dict(scoring="sigmoid", method="noaux_tc", k=2, n_group=4, topk_group=2, norm=True,
          factor=2.5)
rw, rids = ref_of("tie7", **kw)
check((ids7 == rids).all() and rel_error(w7, rw) < 1e-6, "the batch's other rows match float64")
for fn, kw in [("v3", dict(scoring="sigmoid", method="noaux_tc", k=4, n_group=4, topk_group=2,
                           norm=True, factor=2.5)),
               ("v2", dict(scoring="softmax", method="group_limited_greedy", k=3, n_group=4,
                           topk_group=2, norm=False, factor=16.0))]:
    w, ids = call(fn)
    rw, rids = ref_of(fn, **kw)
    err = rel_error(w, rw)
    print(f"{fn}: ids {ids.tolist()}, weight relative error {err:.3e}")
    check((ids == rids).all(), f"{fn} router picks the float64 reference's experts in order")
    check(err < 1e-5, f"{fn} router weights match float64 to 1e-5")

(nb,) = call("bias_update", 1)
b = params["bias_update.bias"]
g = np.float32(0.001)
check(nb.tolist() == [b[0] - g, b[1] + g, b[2] + g, b[3] - g],
      "loads [3, 1, 0, 4]: moves [-0.001, +0.001, +0.001, -0.001]")
