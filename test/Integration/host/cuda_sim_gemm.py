"""The cuda strategy's tiled GEMM for prompt-shaped linears
(dsv3-gpu-tiled-gemm: 64 x 64 tiles staged in shared memory, a fresh f32
sum per 128-wide K block scaled by its weight-scale block), run on the host
with its threads serialized phase by phase (--target=cuda-sim), against
float64 references from the same quantized inputs, and against the same
graph on --target=host (the op's definition). The same kernel runs the
grouped GEMM of a prompt's routed experts (dsv3.grouped_matmul with more
than 64 or a dynamic number of rows), a block per (expert, 64-row tile).

Shapes: kv_a_proj_with_mqa at V3's size (576 rows: a partial 128-row scale
block, 9 weight tiles) with a dynamic token count of 1, 64 and 130 (a
partial token tile); a short K with a partial last K block and a partial
weight tile (K = 320, N = 160) at a static 17 tokens; K < 128 (one short
block, N = 96) dynamic."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]


def linear(fn, name, m, n, k, ytype, xtype="bf16"):
    nb, kb = -(-n // 128), -(-k // 128)
    dyn = m == "?"
    attr = ('{dsv3.name = "x", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens", '
            'min = 1 : i64, max = 4096 : i64}]}') if dyn else '{dsv3.name = "x"}'
    rattr = ('{dsv3.name = "y", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens"}]}'
             if dyn else '{dsv3.name = "y"}')
    return f"""
func.func @{fn}(%x: tensor<{m}x{k}x{xtype}> {attr}) -> (tensor<{m}x{n}x{ytype}> {rattr}) {{
  %w = dsv3.parameter "{name}" : tensor<{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "{name}_scale_inv" : tensor<{nb}x{kb}xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<{nb}x{kb}xf32>)
      : (tensor<{m}x{k}x{xtype}>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<{m}x{n}x{ytype}>
  return %y : tensor<{m}x{n}x{ytype}>
}}"""


V3 = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight"
cases = [  # function, weight, tokens (graph), N, K, result, token counts run, activations
    ("kv_a", V3, "?", 576, 7168, "f32", (1, 64, 130), "bf16"),
    ("short_k", "short.weight", 17, 160, 320, "bf16", (17,), "bf16"),
    ("one_block", "tiny.weight", "?", 96, 96, "f32", (5, 70), "bf16"),
    # f32 activations (an MLP's down_proj input): 32-token tiles.
    ("f32_rows", "down.weight", "?", 160, 320, "f32", (40,), "f32"),
]


def grouped(fn, name, r, e, n, k, xtype="bf16"):
    nb, kb = -(-n // 128), -(-k // 128)
    dyn = r == "?"
    attr = ('{dsv3.name = "rows", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows", '
            'min = 1 : i64, max = 4096 : i64}]}') if dyn else '{dsv3.name = "rows"}'
    rattr = ('{dsv3.name = "y", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows"}]}'
             if dyn else '{dsv3.name = "y"}')
    return f"""
func.func @{fn}(%a: tensor<{r}x{k}x{xtype}> {attr}, %off: tensor<{e + 1}xi64> {{dsv3.name = "offsets"}})
    -> (tensor<{r}x{n}xf32> {rattr}) {{
  %w = dsv3.parameter "{name}" : tensor<{e}x{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "{name}_scale_inv" : tensor<{e}x{nb}x{kb}xf32>
  %y = dsv3.grouped_matmul %a, %w, %off weight_scale_inv(%s : tensor<{e}x{nb}x{kb}xf32>)
      : (tensor<{r}x{k}x{xtype}>, tensor<{e}x{n}x{k}xf8E4M3FN>, tensor<{e + 1}xi64>) -> tensor<{r}x{n}xf32>
  return %y : tensor<{r}x{n}xf32>
}}"""


# Grouped GEMMs of a prompt's routed experts: 6 experts of [160, 320]
# (partial K block and weight tile), unaligned segments of 70, 0, 1, 64, 0
# and 3 rows (an expert with two tiles, empty experts, a one-row tile) and
# rows past offsets[E]; static (150 rows) and dynamic (the same rows, and
# offsets[E] past R, clamped).
E, GN, GK = 6, 160, 320
gcases = [("grouped_static", 150, "bf16"), ("grouped_dynamic", "?", "bf16"),
          ("grouped_f32", "?", "f32")]
with open(f"{out}/graph.mlir", "w") as f:
    f.write("".join(linear(c[0], c[1], c[2], c[3], c[4], c[5], c[7]) for c in cases))
    f.write("".join(grouped(fn, "experts.weight", r, E, GN, GK, t) for fn, r, t in gcases))
    # 40 static rows: the decode GEMV's grouped kernel, for the same checks
    # of rows in no segment.
    f.write(grouped("grouped_gemv", "experts.weight", 40, E, GN, GK))

# Each linear is one tiled kernel on cuda: 64 x 64 tiles, 16 x 16 threads,
# the grid's x extent the token tiles (dynamic for a prompt). A grouped GEMM
# is that kernel after a fill of its result (rows outside every segment
# are 0).
gpu = run(["dsv3-compile", f"{out}/graph.mlir", "--target=cuda", "--emit=gpu", "-o", "-"])
for fn in [c[0] for c in cases] + [g[0] for g in gcases]:
    kernel = "linear" if fn in [c[0] for c in cases] else "grouped_matmul"
    launches = [l for l in gpu.splitlines() if f"@{fn}_{kernel}_" in l and "gpu.launch_func" in l]
    tiled = [l for l in launches if "threads in (%c16, %c16, %c1)" in l]
    fills = [l for l in launches if "_zero_fill::" in l]
    check(len(tiled) == 1 and len(launches) == len(tiled) + len(fills)
          and len(fills) == (0 if kernel == "linear" else 1),
          f"{fn}: one 16 x 16-thread tiled kernel on cuda ({len(launches)} launches)")

rng = np.random.default_rng(5)
params, inputs, refs = {}, {}, {}
for fn, name, _, n, k, ytype, counts, xtype in cases:
    w = (rng.standard_normal((n, k)) * np.exp(rng.uniform(-3, 3, (n, 1)))).astype(np.float32)
    q, s, _ = quantize_ref(w, [128, 128])
    params[name], params[name + "_scale_inv"] = q, s
    sb = np.repeat(np.repeat(s.astype(np.float64), 128, 0), 128, 1)[:n, :k]
    x = (rng.standard_normal((max(counts), k)) * 3).astype(
        ml_dtypes.bfloat16 if xtype == "bf16" else np.float32)
    for m in counts:
        inputs[f"{fn}_{m}"] = x[:m].copy()
        x64, w64 = x[:m].astype(np.float64), q.astype(np.float64) * sb
        # Σ_k |x·w|: what bounds the f32 sum's rounding error.
        refs[(fn, m)] = (x64 @ w64.T, np.abs(x64) @ np.abs(w64).T)
we = (rng.standard_normal((E, GN, GK)) * np.exp(rng.uniform(-3, 3, (E, GN, 1)))).astype(np.float32)
gq, gs = [], []
for e in range(E):
    q, s, _ = quantize_ref(we[e], [128, 128])
    gq.append(q)
    gs.append(s)
gq, gs = np.stack(gq), np.stack(gs)
params["experts.weight"], params["experts.weight_scale_inv"] = gq, gs
counts_e = [70, 0, 1, 64, 0, 3]
offsets = np.concatenate([[0], np.cumsum(counts_e)]).astype(np.int64)
a = (rng.standard_normal((150, GK)) * 3).astype(ml_dtypes.bfloat16)
inputs["rows_150"], inputs["offsets"] = a, offsets
inputs["rows_150_f32"] = (rng.standard_normal((150, GK)) * 3).astype(np.float32)
# The same rows with offsets[E] past R: the last segment ends at R.
inputs["rows_140"], inputs["offsets_past"] = a[:140].copy(), np.array(list(offsets[:-1]) + [400], np.int64)
# Segments that start at row 5 (rows 0..4 belong to no expert and are 0).
inputs["offsets_late"] = offsets + 5
inputs["rows_40"] = a[:40].copy()


def grouped_ref(a, offsets, r):
    y, mag = np.zeros((r, GN)), np.zeros((r, GN))
    for e in range(E):
        lo, hi = min(int(offsets[e]), r), min(int(offsets[e + 1]), r)
        sb = np.repeat(np.repeat(gs[e].astype(np.float64), 128, 0), 128, 1)[:GN, :GK]
        w64 = gq[e].astype(np.float64) * sb
        x64 = a[lo:hi].astype(np.float64)
        y[lo:hi], mag[lo:hi] = x64 @ w64.T, np.abs(x64) @ np.abs(w64).T
    return y


save_safetensors(f"{out}/w.safetensors", params)
save_safetensors(f"{out}/x.safetensors", inputs)

for target in ("cuda-sim", "host"):
    run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/{target}.so"])


def call(target, fn, m, ytype):
    path = f"{out}/{target}_{fn}_{m}.npy"
    run(["dsv3-run", f"{out}/{target}.so", f"--function={fn}", f"--parameters={out}/w.safetensors",
         f"--input=@{out}/x.safetensors:{fn}_{m}", f"--output=@{path}"])
    y = np.load(path)
    # np.load gives a bf16 .npy as a void array.
    return y.view(ml_dtypes.bfloat16).astype(np.float64) if ytype == "bf16" else y.astype(np.float64)


for fn, _, _, n, k, ytype, counts, _ in cases:
    for m in counts:
        ref, mag = refs[(fn, m)]
        sim = call("cuda-sim", fn, m, ytype)
        check(sim.shape == ref.shape, f"{fn}, {m} tokens: result shape {sim.shape}")
        if ytype == "f32":
            err = rel_error(sim, ref)
            print(f"{fn} {m} x {n} x {k}: cuda-sim relative error {err:.3e}")
            check(err < 1e-5, f"cuda-sim tiled GEMM {fn}, {m} tokens, matches float64 to 1e-5")
            host = call("host", fn, m, ytype)
            check(rel_error(sim, host) < 1e-5, f"cuda-sim and host agree, {fn}, {m} tokens")
        else:
            # The f32 sum s (error at most E = (K + 2) 2^-24 Σ|x·w|, K + 2
            # rounded additions and scalings per element) rounded once to
            # bf16 (8 significant bits): |y - ref| <= 2^-8 (|ref| + E) + E.
            # Where the products cancel, E exceeds half a bf16 ulp of ref and
            # the rounding may go either way.
            e = (k + 2) * 2.0**-24 * mag
            bound = 2.0**-8 * (np.abs(ref) + e) + e
            bad = np.abs(sim - ref) > bound
            print(f"{fn} {m} x {n} x {k} (bf16): {bad.sum()} elements outside the bf16 error model")
            check(not bad.any(), f"cuda-sim tiled GEMM {fn}, bf16 result within its error model of float64")
            # The model is tight enough to fail: a result off by 2 ulps is caught.
            off = sim + np.abs(ref) * 2.0**-6
            check((np.abs(off - ref) > bound).mean() > 0.9, "the bf16 check catches 2-ulp errors")


for fn, r, rows, offs in [("grouped_static", 150, "rows_150", "offsets"),
                          ("grouped_dynamic", 150, "rows_150", "offsets"),
                          ("grouped_dynamic", 140, "rows_140", "offsets_past"),
                          ("grouped_dynamic", 150, "rows_150", "offsets_late"),
                          ("grouped_gemv", 40, "rows_40", "offsets"),
                          ("grouped_gemv", 40, "rows_40", "offsets_late"),
                          ("grouped_f32", 150, "rows_150_f32", "offsets")]:
    ref = grouped_ref(inputs[rows], inputs[offs], r)
    got = {}
    for target in ("cuda-sim", "host"):
        path = f"{out}/{target}_{fn}_{r}.npy"
        run(["dsv3-run", f"{out}/{target}.so", f"--function={fn}", f"--parameters={out}/w.safetensors",
             f"--input=@{out}/x.safetensors:{rows}", f"--input=@{out}/x.safetensors:{offs}",
             f"--output=@{path}"])
        got[target] = np.load(path).astype(np.float64)
    sim = got["cuda-sim"]
    check(sim.shape == ref.shape, f"{fn}, {r} rows: result shape {sim.shape}")
    start, end = min(int(inputs[offs][0]), r), min(int(inputs[offs][-1]), r)
    check(not sim[end:].any() and not sim[:start].any(),
          f"{fn}, {r} rows: rows before offsets[0] and past offsets[E] are 0")
    err = rel_error(sim, ref)
    print(f"{fn} {r} x {GN} x {GK}, {E} experts: cuda-sim relative error {err:.3e}")
    check(err < 1e-5, f"cuda-sim grouped GEMM {fn}, {r} rows, matches float64 to 1e-5")
    check(rel_error(sim, got["host"]) < 1e-5, f"cuda-sim and host agree, {fn}, {r} rows")
