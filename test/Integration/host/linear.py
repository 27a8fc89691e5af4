"""dsv3.linear on host vs float64 references (relative error < 1e-5, f32)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
M, N, K = 4, 576, 7168
W = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight"
graph = f"""
func.func @weight_only(%x: tensor<{M}x{K}xbf16>) -> tensor<{M}x{N}xf32> {{
  %w = dsv3.parameter "{W}" : tensor<{N}x{K}xf8E4M3FN>
  %s = dsv3.parameter "{W}_scale_inv" : tensor<5x56xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x56xf32>)
      : (tensor<{M}x{K}xbf16>, tensor<{N}x{K}xf8E4M3FN>) -> tensor<{M}x{N}xf32>
  return %y : tensor<{M}x{N}xf32>
}}
func.func @act_quant(%x: tensor<{M}x{K}xbf16>) -> tensor<{M}x{N}xf32> {{
  %w = dsv3.parameter "{W}" : tensor<{N}x{K}xf8E4M3FN>
  %s = dsv3.parameter "{W}_scale_inv" : tensor<5x56xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<5x56xf32>) act_quant(fp8_1x128)
      : (tensor<{M}x{K}xbf16>, tensor<{N}x{K}xf8E4M3FN>) -> tensor<{M}x{N}xf32>
  return %y : tensor<{M}x{N}xf32>
}}
func.func @bf16_weight(%x: tensor<{M}x{K}xbf16>) -> tensor<{M}x{N}xf32> {{
  %w = dsv3.parameter "dense.weight" : tensor<{N}x{K}xbf16>
  %y = dsv3.linear %x, %w : (tensor<{M}x{K}xbf16>, tensor<{N}x{K}xbf16>) -> tensor<{M}x{N}xf32>
  return %y : tensor<{M}x{N}xf32>
}}
"""
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)

rng = np.random.default_rng(7)
# Rows with different magnitudes so that blocks get different scales.
w = (rng.standard_normal((N, K)) * np.exp(rng.uniform(-3, 3, (N, 1)))).astype(np.float32)
q, s, _ = quantize_ref(w, [128, 128])
check(s.shape == (5, 56), "weight_scale_inv of 576x7168 has 5x56 blocks")
wb = rng.standard_normal((N, K)).astype(ml_dtypes.bfloat16)
x = (rng.standard_normal((M, K)) * 3).astype(ml_dtypes.bfloat16)
save_safetensors(f"{out}/w.safetensors", {W: q, W + "_scale_inv": s, "dense.weight": wb})
save_safetensors(f"{out}/x.safetensors", {"x": x})

run(["dsv3-compile", f"{out}/graph.mlir", "--target=host", "-o", f"{out}/m.so"])


def call(fn):
    run(["dsv3-run", f"{out}/m.so", f"--function={fn}", f"--parameters={out}/w.safetensors",
         f"--input=@{out}/x.safetensors:x", f"--output=@{out}/{fn}.npy"])
    return np.load(f"{out}/{fn}.npy")


x64 = x.astype(np.float64)
sb = np.repeat(np.repeat(s.astype(np.float64), 128, 0), 128, 1)[:N, :K]
ref = x64 @ (q.astype(np.float64) * sb).T
err = rel_error(call("weight_only"), ref)
print(f"weight-only relative error {err:.3e}")
check(err < 1e-5, "weight-only FP8 linear matches float64 to 1e-5")

qa, sa, _ = quantize_ref(x, [1, 128])
qa64 = qa.astype(np.float64).reshape(M, 56, 128)
qb64 = q.astype(np.float64).reshape(N, 56, 128)
partial = np.einsum("mkc,nkc->mnk", qa64, qb64)
sbk = np.repeat(s.astype(np.float64), 128, 0)[:N]  # [N, 56]
ref = np.einsum("mnk,mk,nk->mn", partial, sa.astype(np.float64), sbk)
err = rel_error(call("act_quant"), ref)
print(f"activation-quantized relative error {err:.3e}")
check(err < 1e-5, "activation-quantized FP8 linear matches float64 to 1e-5")

err = rel_error(call("bf16_weight"), x64 @ wb.astype(np.float64).T)
print(f"bf16 weight relative error {err:.3e}")
check(err < 1e-5, "bf16 linear matches float64 to 1e-5")
