"""The host strategy for dsv3.latent_attention (dsv3-host-vectorize-latent-
attention) against the op's linalg definition, which the host pipeline keeps
under --bound-by-kv-len=false, and both against float64: the strategy is as
accurate as the definition (they differ only in the order of f32 sums). Shapes cover decode
over a bf16 cache with a bf16 result, several sequences with their own
start_pos / kv_len and NaN in every row a query may not see, head counts
that need the smaller register tiles, an odd and an even number of visible
rows (the scores take rows in pairs), and a cache longer than the weighted
sum's key blocks of 256."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
bf16 = ml_dtypes.bfloat16


def ty(shape, dt):
    return "tensor<" + "x".join(map(str, shape)) + f"x{dt}>"


def case(name, B, S, H, C, R, L, cache_dt, start, kv_len, nan_hidden=False):
    rng = np.random.default_rng(len(name))
    dt = {"f32": np.float32, "bf16": bf16}[cache_dt]
    q, qp = ty((B, S, H, C), "f32"), ty((B, S, H, R), "f32")
    ck, kp, iv = ty((B, L, C), cache_dt), ty((B, L, R), cache_dt), ty((B,), "i64")
    res = ty((B, S, H, C), cache_dt)
    with open(f"{out}/{name}.mlir", "w") as f:
        f.write(f"""
func.func @attend(%q: {q}, %qp: {qp}, %c: {ck}, %k: {kp}, %s: {iv}, %l: {iv}) -> {res} {{
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.125)
      : {q}, {qp}, {ck}, {kp}, {iv}, {iv} -> {res}
  return %o : {res}
}}""")
    c = rng.standard_normal((B, L, C)).astype(np.float32)
    k = rng.standard_normal((B, L, R)).astype(np.float32)
    if nan_hidden:
        # Rows no query of the sequence may see: t >= kv_len, and t past the
        # last query's start_pos + S - 1.
        for b in range(B):
            first_hidden = min(kv_len[b], start[b] + S)
            c[b, first_hidden:], k[b, first_hidden:] = np.nan, np.nan
    inputs = [rng.standard_normal((B, S, H, C)).astype(np.float32),
              rng.standard_normal((B, S, H, R)).astype(np.float32),
              c.astype(dt), k.astype(dt), np.array(start, np.int64), np.array(kv_len, np.int64)]
    path = f"{out}/{name}.safetensors"
    save_safetensors(path, {f"a{i}": a for i, a in enumerate(inputs)})
    got = {}
    for form, flags in (("strategy", []), ("definition", ["--bound-by-kv-len=false"])):
        so = f"{out}/{name}.{form}.so"
        run(["dsv3-compile", f"{out}/{name}.mlir", "--target=host", "-o", so] + flags)
        run(["dsv3-run", so] + [f"--input=@{path}:a{i}" for i in range(6)]
            + [f"--output=@{out}/{name}.{form}.npy"])
        y = np.load(f"{out}/{name}.{form}.npy")
        got[form] = (y.view(bf16) if cache_dt == "bf16" else y).astype(np.float64)
    a, b = got["strategy"], got["definition"]
    check(np.isfinite(a).all(), f"{name}: no NaN from hidden or unwritten rows")
    ref = attention_ref(*(np.asarray(x, np.float64) for x in inputs[:4]),
                        inputs[4], inputs[5], 0.125)
    ea, eb = rel_error(a, ref), rel_error(b, ref)
    print(f"{name}: vs float64 strategy {ea:.2e}, definition {eb:.2e}; "
          f"strategy vs definition {rel_error(a, b):.2e}")
    if cache_dt == "f32":
        # Both sum in f32, in different orders; the strategy's error stays
        # at the definition's (tree sums of lanes and fused multiply-adds
        # round no more often than the definition's sequential sums).
        check(ea <= 1.25 * eb + 1e-7, f"{name}: strategy as accurate as the definition")
    else:
        # One bf16 rounding of the result (at most 2^-9 relative) on top of
        # the f32 errors above.
        check(ea <= 2.0 ** -9 and eb <= 2.0 ** -9,
              f"{name}: both forms within one bf16 rounding of float64")
        flips = int((a != b).sum())
        print(f"{name}: {flips} of {a.size} bf16 results differ")
        check(flips <= a.size // 50, f"{name}: few bf16 results differ")

case("decode_bf16", 1, 1, 8, 96, 16, 64, "bf16", [40], [41])
case("sequences", 2, 3, 6, 32, 8, 16, "f32", [0, 5], [3, 8], nan_hidden=True)
case("odd_heads", 1, 2, 5, 16, 8, 8, "f32", [2], [4], nan_hidden=True)
case("v3_heads_f32", 1, 1, 128, 512, 64, 96, "f32", [90], [91])
case("v3_heads", 1, 1, 128, 512, 64, 96, "bf16", [90], [91])
case("long_cache", 2, 2, 8, 32, 8, 600, "f32", [578, 300], [580, 302], nan_hidden=True)
