"""Every e4m3 code through the host strategy of dsv3.linear, exactly.

Row n of the weight holds code n in column 0 and zeros elsewhere, so output
column n of token t is x[t, 0] * value(code n) * weight_scale_inv[n / 128, 0]
with a single nonzero product: every finite code must come out exactly as
ml_dtypes widens it, times x and the scale (chosen so that no product
rounds). The two NaN codes read as +-480 (documented in Passes.td).

Then the thread count: a weight-only linear with random data, bit-identical
with --threads=1 and --threads=2 (each output row is computed by one thread,
in the same order).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
M, N, K = 3, 256, 128
graph = f"""
func.func @codes(%x: tensor<{M}x{K}xf32>) -> tensor<{M}x{N}xf32> {{
  %w = dsv3.parameter "w" : tensor<{N}x{K}xf8E4M3FN>
  %s = dsv3.parameter "s" : tensor<2x1xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<2x1xf32>)
      : (tensor<{M}x{K}xf32>, tensor<{N}x{K}xf8E4M3FN>) -> tensor<{M}x{N}xf32>
  return %y : tensor<{M}x{N}xf32>
}}
func.func @random(%x: tensor<5x7168xbf16>) -> tensor<5x1536xf32> {{
  %w = dsv3.parameter "q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>
  %s = dsv3.parameter "q_a_proj.weight_scale_inv" : tensor<12x56xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>)
      : (tensor<5x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<5x1536xf32>
  return %y : tensor<5x1536xf32>
}}
"""
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)
run(["dsv3-compile", f"{out}/graph.mlir", "--target=host", "-o", f"{out}/m.so"])

codes = np.arange(256, dtype=np.uint8)
w = np.zeros((N, K), np.uint8)
w[:, 0] = codes
# Block scales 1 and 2^-7; tokens x[:, 0] = 1, 2^-30 (far below 1, still
# normal after the products), 3 (rounds nowhere: codes have 4 significant
# bits).
s = np.array([[1.0], [2.0**-7]], np.float32)
x = np.zeros((M, K), np.float32)
x[:, 0] = [1.0, 2.0**-30, 3.0]
save_safetensors(f"{out}/codes.safetensors", {"w": w.view(ml_dtypes.float8_e4m3fn), "s": s})
save_safetensors(f"{out}/x.safetensors", {"x": x})
run(["dsv3-run", f"{out}/m.so", "--function=codes", f"--parameters={out}/codes.safetensors",
     f"--input=@{out}/x.safetensors:x", f"--output=@{out}/codes.npy"])
y = np.load(f"{out}/codes.npy")

value = codes.view(ml_dtypes.float8_e4m3fn).astype(np.float32)
finite = np.isfinite(value)
check(finite.sum() == 254, "e4m3fn has 254 finite codes")
scale = np.where(codes < 128, 1.0, 2.0**-7).astype(np.float32)
# + 0.0: the sum starts from +0, so code 0x80 (-0.0) gives +0.0, as in the
# linalg definition.
want = (x[:, :1] * (value * scale)[None, :]).astype(np.float32) + np.float32(0)
bad = [(t, int(c)) for t in range(M) for c in codes[finite]
       if y[t, c].view(np.uint32) != want[t, c].view(np.uint32)]
print(f"finite codes widened exactly: {254 * M - len(bad)}/{254 * M}")
check(not bad, f"every finite code exact (first mismatches {bad[:4]})")
nan_codes = codes[~finite]
got = y[0, nan_codes] / scale[nan_codes]
print(f"NaN codes {[hex(c) for c in nan_codes]} read as {got.tolist()}")
check(got.tolist() == [480.0, -480.0], "the NaN codes read as +-480 (documented)")

# Thread-count independence on a V3 shape with an odd token count (tiles of
# 4 and 1).
rng = np.random.default_rng(3)
q, s2, _ = quantize_ref(rng.standard_normal((1536, 7168)).astype(np.float32), [128, 128])
save_safetensors(f"{out}/qa.safetensors", {"q_a_proj.weight": q, "q_a_proj.weight_scale_inv": s2})
xr = rng.standard_normal((5, 7168)).astype(ml_dtypes.bfloat16)
save_safetensors(f"{out}/xr.safetensors", {"x": xr})
ys = []
for t in (1, 2):
    run(["dsv3-run", f"{out}/m.so", "--function=random", f"--parameters={out}/qa.safetensors",
         f"--input=@{out}/xr.safetensors:x", f"--threads={t}", f"--output=@{out}/r{t}.npy"])
    ys.append(np.load(f"{out}/r{t}.npy"))
check(np.array_equal(ys[0].view(np.uint32), ys[1].view(np.uint32)),
      "weight-only linear: --threads=1 and --threads=2 give the same bits")
sb = np.repeat(np.repeat(s2.astype(np.float64), 128, 0), 128, 1)
ref = xr.astype(np.float64) @ (q.astype(np.float64) * sb).T
err = rel_error(ys[0], ref)
print(f"random linear: relative error {err:.3e} vs float64")
check(err < 1e-5, "random linear matches float64 to 1e-5")
print("ok")
