"""The cuda strategy's rms_norm kernel (dsv3-gpu-rms-norm: a block per row,
strided partial sums of squares, one thread's ordered sum and rsqrt, strided
scaling) run on the host by --target=cuda-sim, against float64 references:
V3's hidden norm (7168 columns: 28 per thread) on 3 rows with a bf16 result,
and kv_a_layernorm (512) on one row in f32; and the same graph on host."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
graph = """
func.func @hidden(%x: tensor<3x7168xf32>) -> tensor<3x7168xbf16> {
  %g = dsv3.parameter "model.layers.0.input_layernorm.weight" : tensor<7168xbf16>
  %y = dsv3.rms_norm %x, %g : (tensor<3x7168xf32>, tensor<7168xbf16>) -> tensor<3x7168xbf16>
  return %y : tensor<3x7168xbf16>
}
func.func @kv(%x: tensor<1x1x512xbf16>) -> tensor<1x1x512xf32> {
  %g = dsv3.parameter "model.layers.0.self_attn.kv_a_layernorm.weight" : tensor<512xbf16>
  %y = dsv3.rms_norm %x, %g : (tensor<1x1x512xbf16>, tensor<512xbf16>) -> tensor<1x1x512xf32>
  return %y : tensor<1x1x512xf32>
}
"""
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)

# One kernel per norm on cuda.
gpu = run(["dsv3-compile", f"{out}/graph.mlir", "--target=cuda", "--emit=gpu", "-o", "-"])
check(gpu.count("gpu.launch_func") == 2, f"one kernel per norm ({gpu.count('gpu.launch_func')})")

rng = np.random.default_rng(5)
g1 = (1 + 0.1 * rng.standard_normal(7168)).astype(ml_dtypes.bfloat16)
g2 = (1 + 0.1 * rng.standard_normal(512)).astype(ml_dtypes.bfloat16)
x1 = (rng.standard_normal((3, 7168)) * np.array([[0.01], [1.0], [30.0]])).astype(np.float32)
x2 = (rng.standard_normal((1, 1, 512)) * 4).astype(ml_dtypes.bfloat16)
save_safetensors(f"{out}/w.safetensors", {"model.layers.0.input_layernorm.weight": g1,
                                          "model.layers.0.self_attn.kv_a_layernorm.weight": g2})
save_safetensors(f"{out}/x.safetensors", {"x1": x1, "x2": x2})
for target in ("cuda-sim", "host"):
    run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/{target}.so"])


def call(target, fn, x):
    run(["dsv3-run", f"{out}/{target}.so", f"--function={fn}", f"--parameters={out}/w.safetensors",
         f"--input=@{out}/x.safetensors:{x}", f"--output=@{out}/{fn}.npy"])
    return np.load(f"{out}/{fn}.npy")


def norm_ref(x, g):
    x = np.asarray(x, np.float64)
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * np.asarray(g, np.float64)


# bf16 result: one rounding of the f32 value; within one bf16 ulp of float64.
ref1 = norm_ref(x1, g1)
for target in ("cuda-sim", "host"):
    y1 = call(target, "hidden", "x1").view(ml_dtypes.bfloat16).astype(np.float64)
    bad = np.abs(y1 - ref1) > np.abs(ref1) * 2.0**-8
    print(f"{target} hidden: {bad.sum()} elements off by more than one bf16 ulp")
    check(not bad.any(), f"{target}: rms_norm 3 x 7168 within one bf16 ulp of float64")
ref2 = norm_ref(x2, g2)
sim2 = call("cuda-sim", "kv", "x2")
err = rel_error(sim2, ref2)
print(f"cuda-sim kv_a_layernorm f32 relative error {err:.3e}")
check(err < 1e-6, "cuda-sim rms_norm 1 x 512 in f32 matches float64 to 1e-6")
check(rel_error(sim2, call("host", "kv", "x2").astype(np.float64)) < 1e-6, "cuda-sim and host agree")
