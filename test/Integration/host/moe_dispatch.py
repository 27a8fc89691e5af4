"""Expert dispatch, grouped GEMM and combine on host vs float64 references."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
# --target=cuda-sim: the cuda strategy's dispatch (dsv3-gpu-expert-dispatch: an
# index block that counts, then a block per row) and combine
# (dsv3-gpu-expert-combine: a block per token and column tile), threads
# serialized; the results must be the same.
target = "host"
for flag in sys.argv[2:]:
    if flag.startswith("--target="):
        target = flag.split("=", 1)[1]


def moe_fn(name, t, h, n, e, k, align, x_t="f32", w_t="f32", fp8=False):
    """(x, ids, w) -> (y, rows, offsets, row_to_token): dispatch, one grouped
    GEMM with the stacked expert weight "<name>.weight", weighted combine."""
    r = t * k + e * (align - 1)
    nb, kb = -(-n // 128), -(-h // 128)
    scale = (f'  %s = dsv3.parameter "{name}.weight_scale_inv" : tensor<{e}x{nb}x{kb}xf32>\n'
             if fp8 else "")
    scale_use = f" weight_scale_inv(%s : tensor<{e}x{nb}x{kb}xf32>)" if fp8 else ""
    return f"""
func.func @{name}(%x: tensor<{t}x{h}x{x_t}>, %ids: tensor<{t}x{k}xi32>, %w: tensor<{t}x{k}xf32>)
    -> (tensor<{t}x{n}xf32>, tensor<{r}x{h}x{x_t}>, tensor<{e + 1}xi64>, tensor<{r}xi64>) {{
  %we = dsv3.parameter "{name}.weight" : tensor<{e}x{n}x{h}x{w_t}>
{scale}  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment({align})
      : (tensor<{t}x{h}x{x_t}>, tensor<{t}x{k}xi32>) -> tensor<{r}x{h}x{x_t}>, tensor<{e + 1}xi64>, tensor<{r}xi64>
  %d = dsv3.grouped_matmul %rows, %we, %off{scale_use}
      : (tensor<{r}x{h}x{x_t}>, tensor<{e}x{n}x{h}x{w_t}>, tensor<{e + 1}xi64>) -> tensor<{r}x{n}xf32>
  %y = dsv3.expert_combine %d, %ids, %w, %off
      : (tensor<{r}x{n}xf32>, tensor<{t}x{k}xi32>, tensor<{t}x{k}xf32>, tensor<{e + 1}xi64>) -> tensor<{t}x{n}xf32>
  return %y, %rows, %off, %tok : tensor<{t}x{n}xf32>, tensor<{r}x{h}x{x_t}>, tensor<{e + 1}xi64>, tensor<{r}xi64>
}}
"""


def ref_moe(x, ids, w, experts):
    """y_t = Σ_k w[t, k] · x_t · W_e^T in float64 (docs/semantics.md §13.1)."""
    y = np.zeros((x.shape[0], experts.shape[1]))
    for t in range(x.shape[0]):
        for k in range(ids.shape[1]):
            y[t] += w[t, k] * (x[t].astype(np.float64) @ experts[ids[t, k]].T)
    return y


fns, params, cases = [], {}, {}
# Empty experts and padding: tokens to experts [0, 0, 2] of 4, expert e is
# (e + 1)·I, alignment 4.
fns.append(moe_fn("empty", 3, 2, 2, 4, 1, 4))
params["empty.weight"] = np.stack([np.eye(2, dtype=np.float32) * (i + 1) for i in range(4)])
cases["empty"] = (np.array([[1, 2], [3, 4], [5, 6]], np.float32),
                  np.array([[0], [0], [2]], np.int32), np.ones((3, 1), np.float32))
# Pairs with id -1 ("no expert") are not dispatched and add nothing: experts
# [1, -], [-, -], [2, 1] of 4, (e + 1)·I, alignment 1 (rows 3-5 are the tail).
fns.append(moe_fn("none", 3, 2, 2, 4, 2, 1))
params["none.weight"] = params["empty.weight"]
cases["none"] = (np.array([[1, 2], [3, 4], [5, 6]], np.float32),
                 np.array([[1, -1], [-1, -1], [2, 1]], np.int32), np.ones((3, 2), np.float32))
# Zero tokens.
fns.append(moe_fn("zero", 0, 2, 2, 4, 1, 4))
params["zero.weight"] = params["empty.weight"]
cases["zero"] = (np.zeros((0, 2), np.float32), np.zeros((0, 1), np.int32),
                 np.zeros((0, 1), np.float32))
# Every token on expert 3 (top-1), the others empty.
rng = np.random.default_rng(5)
fns.append(moe_fn("one", 5, 16, 8, 4, 1, 8))
params["one.weight"] = rng.standard_normal((4, 8, 16)).astype(np.float32)
cases["one"] = (rng.standard_normal((5, 16)).astype(np.float32), np.full((5, 1), 3, np.int32),
                rng.uniform(0.5, 2, (5, 1)).astype(np.float32))
# N tail: 2 experts of all-ones FP8 weights [33, 64] (scale 1), rows 0-1 on
# expert 0, rows 2-3 on expert 1, A rows filled with 1, 2, 4, 8.
fns.append(f"""
func.func @ntail(%a: tensor<4x64xbf16>, %off: tensor<3xi64>) -> tensor<4x33xf32> {{
  %w = dsv3.parameter "ntail.weight" : tensor<2x33x64xf8E4M3FN>
  %s = dsv3.parameter "ntail.weight_scale_inv" : tensor<2x1x1xf32>
  %d = dsv3.grouped_matmul %a, %w, %off weight_scale_inv(%s : tensor<2x1x1xf32>)
      : (tensor<4x64xbf16>, tensor<2x33x64xf8E4M3FN>, tensor<3xi64>) -> tensor<4x33xf32>
  return %d : tensor<4x33xf32>
}}
""")
params["ntail.weight"] = np.ones((2, 33, 64), ml_dtypes.float8_e4m3fn)
# FP8 rows are moved bit-exactly (dispatch in FP8, docs/semantics.md §13.2).
fns.append("""
func.func @f8(%x: tensor<4x64xf8E4M3FN>, %ids: tensor<4x2xi32>) -> (tensor<20x64xf8E4M3FN>, tensor<20xi64>) {
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(4) : (tensor<4x64xf8E4M3FN>, tensor<4x2xi32>) -> tensor<20x64xf8E4M3FN>, tensor<5xi64>, tensor<20xi64>
  return %rows, %tok : tensor<20x64xf8E4M3FN>, tensor<20xi64>
}
""")
params["ntail.weight_scale_inv"] = np.ones((2, 1, 1), np.float32)
# Random top-2 routing, bf16 activations, bf16 experts and block-scaled FP8
# experts (N = 200, K = 192: partial blocks in both dimensions).
T, H, N, E, K = 7, 192, 200, 6, 2
ids = np.array([np.sort(rng.choice(E, K, replace=False)) for _ in range(T)], np.int32)
ids[:, ::-1][::2] = ids[::2]  # some rows list the larger expert first
ids[1] = [5, 0]
wts = rng.uniform(0.1, 1.5, (T, K)).astype(np.float32)
xb = rng.standard_normal((T, H)).astype(ml_dtypes.bfloat16)
fns.append(moe_fn("bf16", T, H, N, E, K, 4, x_t="bf16", w_t="bf16"))
params["bf16.weight"] = rng.standard_normal((E, N, H)).astype(ml_dtypes.bfloat16)
cases["bf16"] = (xb, ids, wts)
fns.append(moe_fn("fp8", T, H, N, E, K, 128, x_t="bf16", w_t="f8E4M3FN", fp8=True))
wf = rng.standard_normal((E, N, H)).astype(np.float32) * np.exp(rng.uniform(-2, 2, (E, 1, 1)))
qs = [quantize_ref(wf[i], [128, 128]) for i in range(E)]
params["fp8.weight"] = np.stack([q for q, _, _ in qs])
params["fp8.weight_scale_inv"] = np.stack([s for _, s, _ in qs])
cases["fp8"] = (xb, ids, wts)

with open(f"{out}/graph.mlir", "w") as f:
    f.write("".join(fns))
save_safetensors(f"{out}/p.safetensors", params)
inputs = {}
for name, (x, i, w) in cases.items():
    inputs.update({f"{name}.x": x, f"{name}.ids": i, f"{name}.w": w})
inputs["ntail.a"] = np.repeat(np.array([[1], [2], [4], [8]], np.float32), 64, 1).astype(
    ml_dtypes.bfloat16)
inputs["ntail.off"] = np.array([0, 2, 4], np.int64)
# Row 3 past offsets[E] = 3: the unused tail, which gives 0 (not expert 1's
# product) although its input row is not zero.
inputs["ntail.offtail"] = np.array([0, 2, 3], np.int64)
inputs["f8.x"] = rng.standard_normal((4, 64)).astype(ml_dtypes.float8_e4m3fn)
inputs["f8.ids"] = np.array([[1, 0], [3, 1], [1, 2], [0, 3]], np.int32)
save_safetensors(f"{out}/x.safetensors", inputs)
run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/m.so"])


def call(fn, names, n_out):
    # safetensors, not .npy: numpy cannot store the bf16 rows.
    outs = [f"{out}/{fn}.{i}.safetensors" for i in range(n_out)]
    run(["dsv3-run", f"{out}/m.so", f"--function={fn}", f"--parameters={out}/p.safetensors"]
        + [f"--input=@{out}/x.safetensors:{fn}.{n}" for n in names]
        + [f"--output=@{o}:out" for o in outs])
    return [load_safetensors(o)["out"] for o in outs]


y, rows, off, tok = call("empty", ["x", "ids", "w"], 4)
print("empty:", y.tolist(), off.tolist(), tok.tolist())
check(y.tolist() == [[1, 2], [3, 4], [15, 18]], "experts [0, 0, 2] of 4 give exactly [[1,2],[3,4],[15,18]]")
check(off.tolist() == [0, 4, 4, 8, 8], "offsets: segments aligned to 4, empty experts have none")
check(tok.tolist() == [0, 1, -1, -1, 2] + [-1] * 10, "row_to_token with -1 padding rows")
check(rows[[2, 3] + list(range(5, 15))].tolist() == [[0, 0]] * 12, "padding rows are zeros")

y, rows, off, tok = call("none", ["x", "ids", "w"], 4)
check(y.tolist() == [[2, 4], [0, 0], [25, 30]] and off.tolist() == [0, 0, 2, 3, 3]
      and tok.tolist() == [0, 2, 2, -1, -1, -1] and not rows[3:].any(),
      "id -1 pairs are neither dispatched nor combined")

y, rows, off, tok = call("zero", ["x", "ids", "w"], 4)
check(y.shape == (0, 2) and off.tolist() == [0] * 5 and (tok == -1).all() and not rows.any(),
      "zero tokens: empty output, empty segments, zero rows")

x, i, w = cases["one"]
y, rows, off, tok = call("one", ["x", "ids", "w"], 4)
check(off.tolist() == [0, 0, 0, 0, 8] and tok[:5].tolist() == list(range(5)),
      "all tokens on expert 3: one segment of 8 rows")
err = rel_error(y, ref_moe(x, i, w, params["one.weight"].astype(np.float64)))
check(err < 1e-6, f"all tokens on one expert match float64 ({err:.2e})")

(d,) = call("ntail", ["a", "off"], 1)
check((d == (64.0 * np.array([1, 2, 4, 8]))[:, None]).all() and d.shape == (4, 33),
      "N tail (N = 33): C[i][j] = 64 * row value exactly, FP8 weights on both experts")
(d,) = call("ntail", ["a", "offtail"], 1)
check((d == (64.0 * np.array([1, 2, 4, 0]))[:, None]).all(),
      "a row past offsets[E] (the unused tail) is 0, whatever its input row")

rows, tok = call("f8", ["x", "ids"], 2)
# Expert 0: tokens 0, 3 (rows 0-1); 1: 0, 1, 2 (4-6); 2: 2 (8); 3: 1, 3 (12-13).
expect = [0, 3, -1, -1, 0, 1, 2, -1, 2, -1, -1, -1, 1, 3] + [-1] * 6
f8x = inputs["f8.x"].view(np.uint8)
check(tok.tolist() == expect and all(
    (rows.view(np.uint8)[r] == (f8x[t] if t >= 0 else 0)).all() for r, t in enumerate(expect)),
      "FP8 rows dispatched bit-exactly, padding rows are +0")

for name in ["bf16", "fp8"]:
    x, i, w = cases[name]
    if name == "fp8":
        s = params["fp8.weight_scale_inv"].astype(np.float64)
        sfull = np.repeat(np.repeat(s, 128, 1), 128, 2)[:, :N, :H]
        experts = params["fp8.weight"].astype(np.float64) * sfull
    else:
        experts = params["bf16.weight"].astype(np.float64)
    y, rows, off, tok = call(name, ["x", "ids", "w"], 4)
    err = rel_error(y, ref_moe(x, i, w, experts))
    print(f"{name}: offsets {off.tolist()}, relative error {err:.3e}")
    check(err < 1e-5, f"{name} experts, top-2: dispatch, grouped GEMM, combine match float64")
    counts = np.bincount(i.ravel(), minlength=E)
    align = 4 if name == "bf16" else 128
    check(off.tolist() == np.concatenate([[0], np.cumsum(-(-counts // align) * align)]).tolist(),
          f"{name} offsets are the aligned prefix sums of the loads")

# Expert ids that are entry inputs are range-checked by the runtime before
# anything runs (metadata bounds [-1, E - 1], -1 = "no expert"): an id of E
# or below -1 is refused with the position and the value, never used as an
# address.
for bad, where in ((4, "[1, 0]"), (-2, "[2, 1]")):
    ids = inputs["f8.ids"].copy()
    r, c = (1, 0) if bad == 4 else (2, 1)
    ids[r, c] = bad
    save_safetensors(f"{out}/bad.safetensors", {"x": inputs["f8.x"], "ids": ids})
    _, err = run(["dsv3-run", f"{out}/m.so", "--function=f8",
                  f"--input=@{out}/bad.safetensors:x", f"--input=@{out}/bad.safetensors:ids"],
                 expect_fail=True)
    check(f"element {where} = {bad} is outside [-1, 3]" in err and "refused" in err,
          f"expert id {bad} of 4 experts is refused at run time")
