"""dsv3-host-vectorize-absorbed-heads on host against float64: absorbed MLA's
per-head products with kv_b_proj (q_nope · W_UK over the slice's rows, o_lat
· W_UVᵀ over its columns) reading the FP8 codes directly. The reference
dequantizes as dsv3.dequantize defines it (f32 product of code and block
scale, rounded to bf16) and sums in float64; the kernel must agree to the
bound of an f32 sum of K terms (K · 2^-24, norm-wise). Rounding the weights
differently (not to bf16) would miss by ~1e-3: the check can fail."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
# --target=cuda-sim: the cuda strategy's kernels (dsv3-gpu-absorbed-heads), threads
# serialized; the same bounds apply.
target = "host"
for flag in sys.argv[2:]:
    if flag.startswith("--target="):
        target = flag.split("=", 1)[1]
bf16 = ml_dtypes.bfloat16
H, NOPE, V, C, B, S = 4, 128, 128, 256, 1, 2
P = NOPE + V
# The body dsv3-decompose-mla gives both contractions: acc + ext(a) * ext(b).
MUL_ADD = """  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %0 = arith.extf %a : bf16 to f32
    %1 = arith.extf %b : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %acc, %2 : f32
    linalg.yield %3 : f32
"""
graph = f"""
#lhs = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#uk = affine_map<(d0, d1, d2, d3, d4) -> (d2, d4, d3)>
#uv = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
#out = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
func.func @heads(%q: tensor<{B}x{S}x{H}x{NOPE}xbf16>, %lat: tensor<{B}x{S}x{H}x{C}xbf16>,
                 %w: tensor<{H * P}x{C}xf8E4M3FN>, %s: tensor<{H * P // 128}x{C // 128}xf32>)
    -> (tensor<{B}x{S}x{H}x{C}xf32>, tensor<{B}x{S}x{H}x{V}xf32>) {{
  %zero = arith.constant 0.0 : f32
  %deq = dsv3.dequantize %w, %s block [128, 128]
      : tensor<{H * P}x{C}xf8E4M3FN>, tensor<{H * P // 128}x{C // 128}xf32> -> tensor<{H * P}x{C}xbf16>
  %e = tensor.expand_shape %deq [[0, 1], [2]] output_shape [{H}, {P}, {C}]
      : tensor<{H * P}x{C}xbf16> into tensor<{H}x{P}x{C}xbf16>
  %wuk = tensor.extract_slice %e[0, 0, 0] [{H}, {NOPE}, {C}] [1, 1, 1]
      : tensor<{H}x{P}x{C}xbf16> to tensor<{H}x{NOPE}x{C}xbf16>
  %wuv = tensor.extract_slice %e[0, {NOPE}, 0] [{H}, {V}, {C}] [1, 1, 1]
      : tensor<{H}x{P}x{C}xbf16> to tensor<{H}x{V}x{C}xbf16>
  %e1 = tensor.empty() : tensor<{B}x{S}x{H}x{C}xf32>
  %z1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<{B}x{S}x{H}x{C}xf32>) -> tensor<{B}x{S}x{H}x{C}xf32>
  %qabs = linalg.generic {{indexing_maps = [#lhs, #uk, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}}
      ins(%q, %wuk : tensor<{B}x{S}x{H}x{NOPE}xbf16>, tensor<{H}x{NOPE}x{C}xbf16>)
      outs(%z1 : tensor<{B}x{S}x{H}x{C}xf32>) {{
{MUL_ADD}  }} -> tensor<{B}x{S}x{H}x{C}xf32>
  %e2 = tensor.empty() : tensor<{B}x{S}x{H}x{V}xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<{B}x{S}x{H}x{V}xf32>) -> tensor<{B}x{S}x{H}x{V}xf32>
  %o = linalg.generic {{indexing_maps = [#lhs, #uv, #out],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}}
      ins(%lat, %wuv : tensor<{B}x{S}x{H}x{C}xbf16>, tensor<{H}x{V}x{C}xbf16>)
      outs(%z2 : tensor<{B}x{S}x{H}x{V}xf32>) {{
{MUL_ADD}  }} -> tensor<{B}x{S}x{H}x{V}xf32>
  return %qabs, %o : tensor<{B}x{S}x{H}x{C}xf32>, tensor<{B}x{S}x{H}x{V}xf32>
}}
"""
with open(f"{out}/heads.mlir", "w") as f:
    f.write(graph)
run(["dsv3-compile", f"{out}/heads.mlir", f"--target={target}", "--emit=linalg", "-o",
     f"{out}/heads.linalg.mlir"])
linalg = open(f"{out}/heads.linalg.mlir").read()
# The definition (dsv3-opt --dsv3-lower-to-linalg alone) dequantizes with a
# linalg.generic over the FP8 codes; the strategy leaves no such op.
reads_fp8 = [l for l in linalg.splitlines() if "linalg.generic" in l and "f8E4M3FN" in l]
check(not reads_fp8 and linalg.count("scf.forall") >= 2,
      "both products run as the strategy's kernels; nothing dequantizes up front")
run(["dsv3-compile", f"{out}/heads.mlir", f"--target={target}", "-o", f"{out}/heads.so"])

rng = np.random.default_rng(5)
w = rng.standard_normal((H * P, C)).astype(np.float32) * np.exp(
    rng.uniform(-2, 2, (H * P, 1))).astype(np.float32)
codes, scale, _ = quantize_ref(w, [128, 128])
q = rng.standard_normal((B, S, H, NOPE)).astype(bf16)
lat = rng.standard_normal((B, S, H, C)).astype(bf16)
path = f"{out}/in.safetensors"
save_safetensors(path, {"q": q, "lat": lat, "w": codes, "s": scale})
run(["dsv3-run", f"{out}/heads.so", f"--input=@{path}:q", f"--input=@{path}:lat",
     f"--input=@{path}:w", f"--input=@{path}:s", f"--output=@{out}/qabs.npy",
     f"--output=@{out}/o.npy"])

# dsv3.dequantize: f32(code) * scale in f32, rounded to bf16.
full = np.repeat(np.repeat(scale, 128, 0), 128, 1)[:H * P, :C]
deq32 = codes.astype(np.float32) * full
deq = deq32.astype(bf16).astype(np.float64).reshape(H, P, C)
for name, got, ref, ref_unrounded, k in (
        ("q_nope . W_UK", np.load(f"{out}/qabs.npy"),
         np.einsum("bshj,hjc->bshc", q.astype(np.float64), deq[:, :NOPE]),
         np.einsum("bshj,hjc->bshc", q.astype(np.float64),
                   deq32.astype(np.float64).reshape(H, P, C)[:, :NOPE]), NOPE),
        ("o_lat . W_UV^T", np.load(f"{out}/o.npy"),
         np.einsum("bshc,hvc->bshv", lat.astype(np.float64), deq[:, NOPE:]),
         np.einsum("bshc,hvc->bshv", lat.astype(np.float64),
                   deq32.astype(np.float64).reshape(H, P, C)[:, NOPE:]), C)):
    err, miss = rel_error(got, ref), rel_error(ref_unrounded, ref)
    print(f"{name}: relative error {err:.2e} (bound {k * 2.0 ** -24:.2e}); "
          f"unrounded weights would be off by {miss:.2e}")
    check(err <= k * 2.0 ** -24, f"{name} equals the definition within an f32 sum of {k} terms")
    check(miss > 10 * k * 2.0 ** -24, f"{name}: the check tells bf16-rounded weights apart")
