"""dsv3.linear on host vs float64 references (relative error < 1e-5, f32)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
# Further arguments go to every dsv3-compile (linear-avx512.test: the AVX-512
# kernels of --march=x86-64-v4, whose 16-lane tiles must agree the same way).
compile_args = sys.argv[2:]
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

run(["dsv3-compile", f"{out}/graph.mlir", "--target=host", "-o", f"{out}/m.so"] + compile_args)


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

# Tiles and cache blocks: a dynamic token count, 79 rows (row groups of 32,
# 32 and 15: row pairs, then a single row; decode tiles of 8, 4, 2 and 1
# rows) and K = 1024 (8 quantization
# blocks, taken in 2 chunks when a token block holds more than 16 tokens).
# Every output element sees the same additions in the same order whatever
# the token count, the tiles and cache blocks it lands in, or the thread
# count, so the rows agree bit for bit with the same tokens run alone.
N2, K2 = 79, 1024
with open(f"{out}/tiles.mlir", "w") as f:
    f.write(f"""
func.func @tiles(%x: tensor<?x{K2}xbf16> {{dsv3.dynamic_dims = [{{dim = 0 : i64, symbol = "t", min = 1 : i64, max = 4096 : i64}}]}})
    -> (tensor<?x{N2}xf32> {{dsv3.dynamic_dims = [{{dim = 0 : i64, symbol = "t"}}]}}) {{
  %w = dsv3.parameter "w2" : tensor<{N2}x{K2}xf8E4M3FN>
  %s = dsv3.parameter "s2" : tensor<1x8xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>)
      : (tensor<?x{K2}xbf16>, tensor<{N2}x{K2}xf8E4M3FN>) -> tensor<?x{N2}xf32>
  return %y : tensor<?x{N2}xf32>
}}
func.func @one(%x: tensor<1x{K2}xbf16>) -> tensor<1x{N2}xf32> {{
  %w = dsv3.parameter "w2" : tensor<{N2}x{K2}xf8E4M3FN>
  %s = dsv3.parameter "s2" : tensor<1x8xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>)
      : (tensor<1x{K2}xbf16>, tensor<{N2}x{K2}xf8E4M3FN>) -> tensor<1x{N2}xf32>
  return %y : tensor<1x{N2}xf32>
}}
func.func @five(%x: tensor<5x{K2}xbf16>) -> tensor<5x{N2}xf32> {{
  %w = dsv3.parameter "w2" : tensor<{N2}x{K2}xf8E4M3FN>
  %s = dsv3.parameter "s2" : tensor<1x8xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x8xf32>)
      : (tensor<5x{K2}xbf16>, tensor<{N2}x{K2}xf8E4M3FN>) -> tensor<5x{N2}xf32>
  return %y : tensor<5x{N2}xf32>
}}
""")
w2 = (rng.standard_normal((N2, K2)) * np.exp(rng.uniform(-3, 3, (1, K2)))).astype(np.float32)
q2, s2, _ = quantize_ref(w2, [128, 128])
x2 = (rng.standard_normal((200, K2)) * 3).astype(ml_dtypes.bfloat16)
save_safetensors(f"{out}/w2.safetensors", {"w2": q2, "s2": s2})
run(["dsv3-compile", f"{out}/tiles.mlir", "--target=host", "-o", f"{out}/tiles.so"] + compile_args)
ref2 = x2.astype(np.float64) @ (
    q2.astype(np.float64) * np.repeat(s2.astype(np.float64), 128, 1)[:, :K2]).T


def tiles(rows, threads, function="tiles"):
    save_safetensors(f"{out}/x2.safetensors", {"x": x2[rows]})
    run(["dsv3-run", f"{out}/tiles.so", f"--function={function}", f"--parameters={out}/w2.safetensors",
         f"--input=@{out}/x2.safetensors:x", f"--threads={threads}", f"--output=@{out}/y2.npy"])
    return np.load(f"{out}/y2.npy")


full = tiles(slice(0, 200), 2)
err = rel_error(full, ref2)
print(f"200 tokens, {N2} x {K2}: relative error {err:.3e}")
check(err < 1e-5, "tiled, cache-blocked FP8 linear matches float64 to 1e-5")
check(np.array_equal(tiles(slice(0, 200), 1), full), "1 and 2 threads give the same bits")
# 17 tokens take the prefill tiles; 16, 6 and 5 the staged decode tiles in
# token pairs (5: and one token alone); 1 a token alone.
for rows in (slice(0, 17), slice(120, 136), slice(100, 106), slice(60, 65), slice(199, 200),
             slice(41, 42)):
    check(np.array_equal(tiles(rows, 2), full[rows]),
          f"tokens {rows.start}..{rows.stop - 1} alone give the bits they have among 200")
# A static single token (decode) runs in 8-row tiles (79 rows: groups of 32
# and 15, so tiles of 8, 4, 2 and 1 too); rows do not change the additions.
for t in (0, 137):
    check(np.array_equal(tiles(slice(t, t + 1), 2, "one"), full[t:t + 1]),
          f"token {t} in the static one-token function gives its bits among 200")
# A static count of at most decode_tokens (5) takes the staged tiles too.
check(np.array_equal(tiles(slice(60, 65), 2, "five"), full[60:65]),
      "tokens 60..64 in the static five-token function give their bits among 200")

# The strategy table's tile parameters change the blocking, not any output
# element's arithmetic: a hand-written dsv3.host_strategy with other row
# groups, token blocks and K chunks (every count chunked) gives the same bits.
with open(f"{out}/tiles.mlir") as f:
    text = f.read()


def same_bits_with(strategy, what):
    """Recompiles tiles.mlir with `strategy` written on its linear and checks
    200 tokens against `full`, bit for bit."""
    with open(f"{out}/tuned.mlir", "w") as f:
        f.write(text.replace(
            "weight_scale_inv(%s : tensor<1x8xf32>)",
            "weight_scale_inv(%s : tensor<1x8xf32>) {dsv3.host_strategy = "
            f"{{kernel = \"weight_tiles\", {strategy}}}}}"))
    run(["dsv3-compile", f"{out}/tuned.mlir", "--target=host", "-o", f"{out}/tiles.so"]
        + compile_args)
    check(np.array_equal(tiles(slice(0, 200), 2), full), f"{what}: the same bits")


same_bits_with("rows_per_task = 7 : i64, decode_tokens = 0 : i64, token_block = 13 : i64, "
               "k_chunk_blocks = 3 : i64",
               "rows_per_task 7, token_block 13, k_chunk_blocks 3, decode_tokens 0")
# Chunks of 8 blocks (4 KiB of f32 a row) in row groups of 40: the panel
# takes 16 rows at a time (64 KiB), so each chunk of a group goes in panels
# of 16, 16 and 8 (7 in the second group of 39 rows).
same_bits_with("rows_per_task = 40 : i64, decode_tokens = 0 : i64, k_chunk_blocks = 8 : i64",
               "rows_per_task 40, k_chunk_blocks 8 (panels of 16 rows)")
# Chunks of 128 blocks are too long for an f32 panel of two rows, so the
# prefill tiles widen each weight vector in registers: the panel's values
# are the same.
same_bits_with("decode_tokens = 0 : i64, k_chunk_blocks = 128 : i64",
               "k_chunk_blocks 128 (no panel: widened in registers)")
