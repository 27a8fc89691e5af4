"""A DeepSeek-V3 MoE layer on host vs the Hugging Face fixture (1e-5 relative)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
fixture = os.path.join(os.path.dirname(__file__), "..", "fixtures", "deepseek_v3_moe.safetensors")
P = "model.layers.3.mlp."
T, H, I, E, K, ALIGN = 6, 32, 16, 8, 2, 4
R = T * K + E * (ALIGN - 1)
graph = f"""
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @moe(%x: tensor<{T}x{H}xf32>) -> tensor<{T}x{H}xf32> {{
  %gw = dsv3.parameter "{P}gate.weight" : tensor<{E}x{H}xf32>
  %gb = dsv3.parameter "{P}gate.e_score_correction_bias" : tensor<{E}xf32>
  %gu = dsv3.parameter "{P}experts.gate_up_proj" : tensor<{E}x{2 * I}x{H}xf32>
  %dn = dsv3.parameter "{P}experts.down_proj" : tensor<{E}x{H}x{I}xf32>
  %sg = dsv3.parameter "{P}shared_experts.gate_proj.weight" : tensor<{I}x{H}xf32>
  %su = dsv3.parameter "{P}shared_experts.up_proj.weight" : tensor<{I}x{H}xf32>
  %sd = dsv3.parameter "{P}shared_experts.down_proj.weight" : tensor<{H}x{I}xf32>
  %w, %ids = dsv3.moe_gate %x, %gw bias(%gb : tensor<{E}xf32>) scoring_func(sigmoid)
      topk_method(noaux_tc) top_k({K}) n_group(4) topk_group(2) norm_topk_prob
      routed_scaling_factor(2.5) : (tensor<{T}x{H}xf32>, tensor<{E}x{H}xf32>)
      -> tensor<{T}x{K}xf32>, tensor<{T}x{K}xi32>
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment({ALIGN})
      : (tensor<{T}x{H}xf32>, tensor<{T}x{K}xi32>) -> tensor<{R}x{H}xf32>, tensor<{E + 1}xi64>, tensor<{R}xi64>
  %h = dsv3.grouped_matmul %rows, %gu, %off
      : (tensor<{R}x{H}xf32>, tensor<{E}x{2 * I}x{H}xf32>, tensor<{E + 1}xi64>) -> tensor<{R}x{2 * I}xf32>
  // silu(gate) * up, gate = columns [0, I), up = [I, 2I) (HF chunk(2)).
  %hg = tensor.extract_slice %h[0, 0] [{R}, {I}] [1, 1] : tensor<{R}x{2 * I}xf32> to tensor<{R}x{I}xf32>
  %hu = tensor.extract_slice %h[0, {I}] [{R}, {I}] [1, 1] : tensor<{R}x{2 * I}xf32> to tensor<{R}x{I}xf32>
  %e0 = tensor.empty() : tensor<{R}x{I}xf32>
  %a = linalg.generic {{indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%hg, %hu : tensor<{R}x{I}xf32>, tensor<{R}x{I}xf32>) outs(%e0 : tensor<{R}x{I}xf32>) {{
  ^bb0(%g: f32, %u: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %den = arith.addf %one, %ex : f32
    %s = arith.divf %g, %den : f32
    %v = arith.mulf %s, %u : f32
    linalg.yield %v : f32
  }} -> tensor<{R}x{I}xf32>
  %d = dsv3.grouped_matmul %a, %dn, %off
      : (tensor<{R}x{I}xf32>, tensor<{E}x{H}x{I}xf32>, tensor<{E + 1}xi64>) -> tensor<{R}x{H}xf32>
  %routed = dsv3.expert_combine %d, %ids, %w, %off
      : (tensor<{R}x{H}xf32>, tensor<{T}x{K}xi32>, tensor<{T}x{K}xf32>, tensor<{E + 1}xi64>) -> tensor<{T}x{H}xf32>
  %g1 = dsv3.linear %x, %sg : (tensor<{T}x{H}xf32>, tensor<{I}x{H}xf32>) -> tensor<{T}x{I}xf32>
  %u1 = dsv3.linear %x, %su : (tensor<{T}x{H}xf32>, tensor<{I}x{H}xf32>) -> tensor<{T}x{I}xf32>
  %e1 = tensor.empty() : tensor<{T}x{I}xf32>
  %m = linalg.generic {{indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%g1, %u1 : tensor<{T}x{I}xf32>, tensor<{T}x{I}xf32>) outs(%e1 : tensor<{T}x{I}xf32>) {{
  ^bb0(%g: f32, %u: f32, %o: f32):
    %one = arith.constant 1.0 : f32
    %ng = arith.negf %g : f32
    %ex = math.exp %ng : f32
    %den = arith.addf %one, %ex : f32
    %s = arith.divf %g, %den : f32
    %v = arith.mulf %s, %u : f32
    linalg.yield %v : f32
  }} -> tensor<{T}x{I}xf32>
  %shared = dsv3.linear %m, %sd : (tensor<{T}x{I}xf32>, tensor<{H}x{I}xf32>) -> tensor<{T}x{H}xf32>
  %e2 = tensor.empty() : tensor<{T}x{H}xf32>
  %y = linalg.add ins(%routed, %shared : tensor<{T}x{H}xf32>, tensor<{T}x{H}xf32>)
      outs(%e2 : tensor<{T}x{H}xf32>) -> tensor<{T}x{H}xf32>
  return %y : tensor<{T}x{H}xf32>
}}
"""
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)
fx = load_safetensors(fixture)
save_safetensors(f"{out}/p.safetensors", {k: v for k, v in fx.items() if k.startswith(P)})
run(["dsv3-compile", f"{out}/graph.mlir", "--target=host", "-o", f"{out}/m.so"])
run(["dsv3-run", f"{out}/m.so", "--function=moe", f"--parameters={out}/p.safetensors",
     f"--input=@{fixture}:x", f"--output=@{out}/y.npy"])
err = rel_error(np.load(f"{out}/y.npy"), fx["y"])
print(f"relative error vs transformers DeepseekV3MoE: {err:.3e}")
check(err < 1e-5, "MoE layer matches Hugging Face DeepseekV3MoE to 1e-5")
