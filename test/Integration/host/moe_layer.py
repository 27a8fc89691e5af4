"""One dsv3.moe op (DeepSeek-V3 MoE layer) on host vs the Hugging Face fixture,
with its weights under the per-expert checkpoint names (1e-5 relative)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
# --target=cuda-sim: the cuda strategy's kernels (the experts' and the shared
# expert's GEMVs) on the host, threads serialized phase by phase.
target = next((a.split("=", 1)[1] for a in sys.argv[2:] if a.startswith("--target=")), "host")
fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "deepseek_v3_moe.safetensors")
P = "model.layers.3.mlp."
T, H, I, E = 6, 32, 16, 8


def graph(weight_type):
    return f"""
func.func @moe(%x: tensor<{T}x{H}xf32>) -> tensor<{T}x{H}xf32> {{
  %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts({E}) num_experts_per_tok(2)
      n_group(4) topk_group(2) topk_method(noaux_tc) scoring_func(sigmoid) norm_topk_prob
      routed_scaling_factor(2.5) moe_intermediate_size({I}) n_shared_experts(1)
      weight_type({weight_type}) alignment(4) : tensor<{T}x{H}xf32> -> tensor<{T}x{H}xf32>
  return %y : tensor<{T}x{H}xf32>
}}
"""


def compile_run(name, weight_type, params):
    with open(f"{out}/{name}.mlir", "w") as f:
        f.write(graph(weight_type))
    save_safetensors(f"{out}/{name}.safetensors", params)
    run(["dsv3-compile", f"{out}/{name}.mlir", f"--target={target}", "-o", f"{out}/{name}.so"])
    run(["dsv3-run", f"{out}/{name}.so", "--function=moe", f"--parameters={out}/{name}.safetensors",
         f"--input=@{fixture}:x", f"--output=@{out}/{name}.npy"])
    return np.load(f"{out}/{name}.npy")


fx = load_safetensors(fixture)
# The fixture holds transformers 5's fused, stacked expert tensors; the
# released checkpoint has one tensor per expert and projection. Write those.
params = {k: v for k, v in fx.items() if k.startswith(P) and ".experts." not in k}
gate_up, down = fx[P + "experts.gate_up_proj"], fx[P + "experts.down_proj"]
for e in range(E):
    params[f"{P}experts.{e}.gate_proj.weight"] = np.ascontiguousarray(gate_up[e, :I])
    params[f"{P}experts.{e}.up_proj.weight"] = np.ascontiguousarray(gate_up[e, I:])
    params[f"{P}experts.{e}.down_proj.weight"] = np.ascontiguousarray(down[e])
err = rel_error(compile_run("f32", "f32", params), fx["y"])
print(f"relative error vs transformers DeepseekV3MoE: {err:.3e}")
check(err < 1e-5, "dsv3.moe matches Hugging Face DeepseekV3MoE to 1e-5")

# FP8 checkpoint form: every projection quantized in 128x128 blocks with a
# `_scale_inv` companion, the router weight bf16. Weight-only FP8 dequantizes
# in f32 (q · s is exact), so it must match an f32 layer whose weights are
# those dequantized values (and the same bf16 router) to f32 rounding.
fp8, deq = {}, {}
for k, v in params.items():
    if k.endswith("gate.weight"):
        fp8[k] = v.astype(ml_dtypes.bfloat16)
        deq[k] = fp8[k].astype(np.float32)
    elif k.endswith("_proj.weight"):
        q, s, _ = quantize_ref(v, [128, 128])
        fp8[k], fp8[k + "_scale_inv"] = q, s
        full = np.repeat(np.repeat(s, 128, 0), 128, 1)[: v.shape[0], : v.shape[1]]
        deq[k] = (q.astype(np.float32) * full).astype(np.float32)
    else:
        fp8[k] = deq[k] = v
err8 = rel_error(compile_run("fp8", "f8E4M3FN", fp8), compile_run("deq", "f32", deq))
print(f"FP8 layer vs f32 layer on the dequantized weights: {err8:.3e}")
check(err8 < 1e-6, "FP8 dsv3.moe (per-expert weight_scale_inv) matches its dequantized f32 form")
