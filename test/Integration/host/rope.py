"""dsv3.rope on host vs float64 references (docs/semantics.md §8-§9)."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
YARN = ("factor(40.0) original_max_position_embeddings(4096) beta_fast(32.0) "
        "beta_slow(1.0) mscale(1.0) mscale_all_dim(1.0)")
B, T, H, D = 2, 5, 3, 64


def fn(name, xshape, pshape, attrs, dt="f32"):
    xt = "tensor<" + "x".join(map(str, xshape)) + f"x{dt}>"
    pt = "tensor<" + "x".join(map(str, pshape)) + "xi64>"
    return f"""
func.func @{name}(%x: {xt}, %p: {pt}) -> {xt} {{
  %y = dsv3.rope %x at %p {attrs} : ({xt}, {pt}) -> {xt}
  return %y : {xt}
}}"""


graph = "\n".join([
    fn("small_interleaved", [3, 4], [3], "theta(10000.0)"),
    fn("small_half", [3, 4], [3], "layout(half)"),
    fn("unit_interleaved", [1, D], [1], YARN),
    fn("unit_half", [1, D], [1], "layout(half) " + YARN),
    fn("yarn_interleaved", [B, T, H, D], [B, T], YARN),
    fn("yarn_half", [B, T, H, D], [B, T], "layout(half) " + YARN),
    fn("plain_interleaved", [B, T, D], [B, T], ""),
    fn("bf16_interleaved", [B, T, H, D], [B, T], YARN, dt="bf16"),
])
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)
run(["dsv3-compile", f"{out}/graph.mlir", "--target=host", "-o", f"{out}/m.so"])


def call(name, x, p, dt=np.float32):
    save_safetensors(f"{out}/{name}.in.safetensors",
                     {"x": np.asarray(x).astype(dt), "p": np.asarray(p, np.int64)})
    run(["dsv3-run", f"{out}/m.so", f"--function={name}",
         f"--input=@{out}/{name}.in.safetensors:x",
         f"--input=@{out}/{name}.in.safetensors:p",
         f"--output=@{out}/{name}.out.safetensors:y"])
    return load_safetensors(f"{out}/{name}.out.safetensors")["y"].astype(np.float64)


def freqs_ref(d, theta, yarn):
    """f' of docs/semantics.md §8.1, §9.1 in float64."""
    f = theta ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    if yarn is None:
        return f
    s, l0, bf, bs = yarn

    def corr(r):
        return d * math.log(l0 / (2 * math.pi * r)) / (2 * math.log(theta))

    low = max(math.floor(corr(bf)), 0)
    high = min(math.ceil(corr(bs)), d - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(d // 2) - low) / (high - low), 0, 1)
    return f * ((1 - ramp) + ramp / s)


def rope_ref(x, p, layout, yarn):
    """Rotation in float64 of the angle docs/semantics.md §8.1 prescribes: f32(p)·f32(f')
    rounded to f32 (docs/semantics.md §8.1)."""
    x = np.asarray(x, np.float64)
    d = x.shape[-1]
    f = freqs_ref(d, 10000.0, yarn).astype(np.float32)
    ang = (np.asarray(p).astype(np.float32)[..., None] * f).astype(np.float64)
    ang = ang.reshape(ang.shape[:-1] + (1,) * (x.ndim - ang.ndim) + ang.shape[-1:])
    c, s = np.cos(ang), np.sin(ang)
    y = np.empty_like(x)
    if layout == "interleaved":
        a, b = x[..., 0::2], x[..., 1::2]
        y[..., 0::2], y[..., 1::2] = a * c - b * s, b * c + a * s
    else:
        a, b = x[..., : d // 2], x[..., d // 2 :]
        y[..., : d // 2], y[..., d // 2 :] = a * c - b * s, b * c + a * s
    return y


V3 = (40.0, 4096, 32.0, 1.0)
# The reference itself reproduces docs/semantics.md §9.1's worked V3 numbers.
f0, fy = freqs_ref(64, 10000.0, None), freqs_ref(64, 10000.0, V3)
check(abs(fy[16] / f0[16] - 0.55) < 1e-12 and abs(fy[22] / f0[22] - 0.10) < 1e-12
      and fy[10] == f0[10] and abs(fy[23] / f0[23] - 1 / 40) < 1e-12,
      "reference YaRN frequencies match docs/semantics.md §9.1 (f'_16 = 0.55 f_16, ...)")

# Layout: q_pe = [1,0,0,0] at position 1, k_pe = [0,1,0,0] (and [0,0,1,0])
# at position 0, theta 10000, interleaved pairs: q·k = sin(1) (and 0).
x = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
y = call("small_interleaved", x, [1, 0, 0])
d1, d2 = y[0] @ y[1], y[0] @ y[2]
print(f"interleaved q.k = {d1:.8f}, {d2:.8f}")
check(abs(d1 - 0.84147098) < 1e-7, "interleaved q_pe.k_pe = sin(1) = 0.84147098")
check(abs(d2) < 1e-7, "interleaved q_pe.[0,0,1,0] = 0")
# The same vectors in the half layout (gather P: evens, then odds) give the
# same scores (docs/semantics.md §8.2).
perm = [0, 2, 1, 3]
y = call("small_half", np.asarray(x)[:, perm], [1, 0, 0])
check(abs(y[0] @ y[1] - math.sin(1)) < 1e-7 and abs(y[0] @ y[2]) < 1e-7,
      "half layout of the permuted vectors gives the same dot products")

# Unit magnitude under YaRN factor 40: cos/sin are not scaled by mscale.
e0 = np.zeros((1, D))
e0[0, 0] = 1
for layout in ("interleaved", "half"):
    n = np.linalg.norm(call(f"unit_{layout}", e0, [5]))
    print(f"{layout} |rope(e0, 5)| = {n:.9f}")
    check(abs(n - 1.0) < 1e-6, f"{layout} rotated [1,0,...,0] at position 5 has norm 1")

# Random data, [B, T] positions up to 163839 (the HF context), per layout.
rng = np.random.default_rng(3)
x = rng.standard_normal((B, T, H, D)).astype(np.float32)
p = rng.integers(0, 163840, (B, T))
p[0, :3] = [0, 1, 4096]
for layout in ("interleaved", "half"):
    err = rel_error(call(f"yarn_{layout}", x, p), rope_ref(x, p, layout, V3))
    print(f"yarn {layout} relative error {err:.3e}")
    check(err < 1e-5, f"YaRN rope ({layout}) matches float64 to 1e-5")
gather = list(range(0, D, 2)) + list(range(1, D, 2))
yi = call("yarn_interleaved", x, p)
yh = call("yarn_half", x[..., gather], p)
err = rel_error(yh, yi[..., gather])
check(err < 1e-6, "NeoX(P x) = P GPTJ(x) (docs/semantics.md §8.2)")
x3 = x[:, :, 0]
err = rel_error(call("plain_interleaved", x3, p), rope_ref(x3, p, "interleaved", None))
print(f"plain rope relative error {err:.3e}")
check(err < 1e-5, "rope without YaRN, no head dim, matches float64 to 1e-5")

# bf16 in and out: rotation in f32 from the bf16 values, one rounding at the
# end, so every element is within one bf16 rounding (2^-8 relative, with room
# for the f32 error) of the float64 rotation.
xb = x.astype(ml_dtypes.bfloat16)
ref = rope_ref(xb.astype(np.float64), p, "interleaved", V3)
got = call("bf16_interleaved", xb, p, ml_dtypes.bfloat16)
bound = np.abs(ref) * 2.0 ** -8 + 1e-30
check((np.abs(got - ref) <= bound).all() and rel_error(got, ref) < 4e-3,
      "bf16 rope is the float64 rotation rounded once to bf16")
