"""Bit-exact checks of dsv3's FP8 quantization against ml_dtypes (docs/semantics.md §4-§5)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
E4M3 = ml_dtypes.float8_e4m3fn
bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
bf = bits.view(ml_dtypes.bfloat16)
finite = bf[np.isfinite(bf.astype(np.float32))]
NF = finite.size  # 65280 finite bf16 values

# --- Rows for the exhaustive quantize test: each row is one 1x128 tile whose
# first element fixes amax, so the scale is known exactly.
rows = []


def add_rows(anchor, values):
    for i in range(0, len(values), 127):
        chunk = values[i : i + 127]
        row = np.zeros(128, np.float32)
        row[0] = anchor
        row[1 : 1 + len(chunk)] = chunk
        # pad with copies of the chunk so no row is mostly zeros
        row[1 + len(chunk) :] = np.resize(chunk, 127 - len(chunk))
        rows.append(row)


f = finite.astype(np.float32)
add_rows(448.0, f[np.abs(f) <= 448])  # scale exactly 1
# Non-power-of-two scales 3·2^k: anchor 1344·2^k, the smallest one >= |v|.
mag = np.abs(f[f != 0])
k = np.ceil(np.log2(mag / 1344.0)).astype(int)
k = np.where(1344.0 * np.exp2(k - 1.0) >= mag, k - 1, k)
k = np.where(1344.0 * np.exp2(k.astype(np.float64)) < mag, k + 1, k)
fits = 1344.0 * np.exp2(k.astype(np.float64)) <= float(np.finfo(np.float32).max)
for kk in np.unique(k[fits]):
    vals = f[f != 0][(k == kk) & fits]
    add_rows(np.float32(1344.0 * 2.0**kk), vals)
# Arbitrary amax (scales that are neither): x = amax itself may divide to a
# hair above 448 and must saturate to 0x7E/0xFE.
rng = np.random.default_rng(3)
for a in rng.choice(finite[np.abs(finite.astype(np.float32)) > 1e-3], 300).astype(np.float32):
    add_rows(a, -np.abs(rng.standard_normal(127).astype(np.float32)) * np.abs(a) / 4)
X = np.stack(rows).astype(ml_dtypes.bfloat16)
R = X.shape[0]

# A tile with inf, one with NaN, one all zero.
special = np.zeros((3, 128), np.float32)
special[0, :4] = [448, np.inf, -3.0, 1.0]
special[1, :4] = [448, np.nan, -3.0, 1.0]
S = special.astype(ml_dtypes.bfloat16)

graph = f"""
func.func @tiles(%x: tensor<{R}x128xbf16>) -> (tensor<{R}x128xf8E4M3FN>, tensor<{R}x1xf32>) {{
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<{R}x128xbf16> -> tensor<{R}x128xf8E4M3FN>, tensor<{R}x1xf32>
  return %q, %s : tensor<{R}x128xf8E4M3FN>, tensor<{R}x1xf32>
}}
func.func @special(%x: tensor<3x128xbf16>) -> (tensor<3x128xf8E4M3FN>, tensor<3x1xf32>, tensor<3x128xf32>) {{
  %q, %s = dsv3.quantize %x block [1, 128] : tensor<3x128xbf16> -> tensor<3x128xf8E4M3FN>, tensor<3x1xf32>
  %d = dsv3.dequantize %q, %s block [1, 128] : tensor<3x128xf8E4M3FN>, tensor<3x1xf32> -> tensor<3x128xf32>
  return %q, %s, %d : tensor<3x128xf8E4M3FN>, tensor<3x1xf32>, tensor<3x128xf32>
}}
func.func @weight(%w: tensor<256x256xf32>) -> (tensor<256x256xf8E4M3FN>, tensor<2x2xf32>, tensor<256x256xf32>) {{
  %q, %s = dsv3.quantize %w block [128, 128] : tensor<256x256xf32> -> tensor<256x256xf8E4M3FN>, tensor<2x2xf32>
  %d = dsv3.dequantize %q, %s block [128, 128] : tensor<256x256xf8E4M3FN>, tensor<2x2xf32> -> tensor<256x256xf32>
  return %q, %s, %d : tensor<256x256xf8E4M3FN>, tensor<2x2xf32>, tensor<256x256xf32>
}}
func.func @ue8m0(%x: tensor<6x128xf32>) -> (tensor<6x128xf8E4M3FN>, tensor<6x1xf8E8M0FNU>) {{
  %q, %s = dsv3.quantize %x block [1, 128] scale_fmt(ue8m0) : tensor<6x128xf32> -> tensor<6x128xf8E4M3FN>, tensor<6x1xf8E8M0FNU>
  return %q, %s : tensor<6x128xf8E4M3FN>, tensor<6x1xf8E8M0FNU>
}}
func.func @kv_a(%w: tensor<576x256xf32>) -> (tensor<576x256xf8E4M3FN>, tensor<5x2xf32>) {{
  %q, %s = dsv3.quantize %w block [128, 128] : tensor<576x256xf32> -> tensor<576x256xf8E4M3FN>, tensor<5x2xf32>
  return %q, %s : tensor<576x256xf8E4M3FN>, tensor<5x2xf32>
}}
#id = affine_map<(d0) -> (d0)>
func.func @cast(%x: tensor<{NF}xbf16>, %c: tensor<256xf8E4M3FN>) -> (tensor<{NF}xf8E4M3FN>, tensor<256xf32>) {{
  %e = tensor.empty() : tensor<{NF}xf8E4M3FN>
  %q = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel"]}}
      ins(%x : tensor<{NF}xbf16>) outs(%e : tensor<{NF}xf8E4M3FN>) {{
  ^bb0(%a: bf16, %o: f8E4M3FN):
    %t = arith.truncf %a : bf16 to f8E4M3FN
    linalg.yield %t : f8E4M3FN
  }} -> tensor<{NF}xf8E4M3FN>
  %e2 = tensor.empty() : tensor<256xf32>
  %w = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel"]}}
      ins(%c : tensor<256xf8E4M3FN>) outs(%e2 : tensor<256xf32>) {{
  ^bb0(%a: f8E4M3FN, %o: f32):
    %t = arith.extf %a : f8E4M3FN to f32
    linalg.yield %t : f32
  }} -> tensor<256xf32>
  return %q, %w : tensor<{NF}xf8E4M3FN>, tensor<256xf32>
}}
"""
with open(f"{out}/q.mlir", "w") as fh:
    fh.write(graph)
run(["dsv3-compile", f"{out}/q.mlir", "--target=host", "-o", f"{out}/q.so"])


NOUT = {"cast": 2, "tiles": 2, "special": 3, "weight": 3, "ue8m0": 2, "kv_a": 2}


def call(fn, inputs):
    save_safetensors(f"{out}/{fn}.in.safetensors", inputs)
    args = [f"--input=@{out}/{fn}.in.safetensors:{n}" for n in inputs]
    outs = [f"{out}/{fn}.out{i}.safetensors" for i in range(NOUT[fn])]
    run(["dsv3-run", f"{out}/q.so", f"--function={fn}", *args] + [f"--output=@{o}" for o in outs])
    return [next(iter(load_safetensors(o).values())) for o in outs]


def u8(a):
    return np.asarray(a).view(np.uint8)


# 1. The casts alone: arith.truncf bf16 -> e4m3 (RNE, overflow and inf give
#    NaN, as APFloat and ml_dtypes do) and extf of all 256 codes.
codes = np.arange(256, dtype=np.uint8).view(E4M3)
q, w = call("cast", {"x": finite, "c": codes})
ref = finite.astype(np.float32).astype(E4M3)
check(np.array_equal(u8(q), u8(ref)), f"truncf to e4m3 is bit-exact on all {NF} finite bf16 values")
check(np.array_equal(w.view(np.uint32)[~np.isnan(w)], codes.astype(np.float32).view(np.uint32)[~np.isnan(w)])
      and np.array_equal(np.isnan(w), np.isnan(codes.astype(np.float32))), "extf of all 256 e4m3 codes is exact")

# 2. Quantize every finite bf16 value in tiles with known scales.
q, s = call("tiles", {"x": X})
rq, rs, _ = quantize_ref(X, [1, 128])
check(np.array_equal(s.view(np.uint32), rs.view(np.uint32)), f"{R} tile scales bit-exact")
check(np.array_equal(u8(q), u8(rq)), f"{R}x128 quantized values bit-exact vs ml_dtypes")
sat = np.abs(X.astype(np.float32) / rs) > 448
print(f"{int(sat.sum())} elements divided to more than 448 and saturated")
check(sat.any() and np.all(np.isin(u8(q)[sat], [0x7E, 0xFE])), "values above 448 saturate to 0x7E/0xFE")
check(np.all(s[:1] == 1.0), "anchor 448 gives scale exactly 1")

# 3. inf, NaN, all-zero tiles.
q, s, d = call("special", {"x": S})
check(np.isinf(s[0, 0]) and u8(q)[0, 1] in (0x7F, 0xFF) and u8(q)[0, 0] == 0,
      "a tile with inf: scale inf, inf -> NaN, finite values -> 0")
check(s[1, 0] == np.float32(448) / np.float32(448) and u8(q)[1, 1] in (0x7F, 0xFF)
      and u8(q)[1, 0] == 0x7E and u8(q)[1, 2] == u8(np.float32(-3).astype(E4M3)),
      "NaN is ignored by amax and stays NaN; the rest of its tile is quantized")
check(s[2, 0] == np.float32(np.float32(1e-4) / np.float32(448)) and not u8(q)[2].any()
      and not np.isnan(d[2]).any() and not d[2].any(), "all-zero tile: scale 1e-4/448, zeros, dequantized zeros")

# 4. 256x256 weight, zeros except W[0][0] = 1.
W = np.zeros((256, 256), np.float32)
W[0, 0] = 1.0
q, s, d = call("weight", {"w": W})
check(s.view(np.uint32)[0, 0] == 0x3B124925, "scale_inv[0][0] = f32(1/448) (0x3B124925)")
check(u8(q)[0, 0] == 0x7E and d[0, 0] == 1.0, "q[0][0] = 0x7E and dequantizes to exactly 1.0")
z = np.float32(np.float32(1e-4) / np.float32(448))
check(np.all(s.flat[1:] == z) and np.isfinite(d).all() and np.count_nonzero(d) == 1,
      "other blocks: finite scales 1e-4/448, zeros, no NaN anywhere")

# 5. UE8M0: amax 448·2^k gives scale 2^k exactly, 449 gives 2 (rounded up with
#    exact exponent arithmetic), values divided by the rounded scale.
U = np.zeros((6, 128), np.float32)
for r, a in enumerate([448 * 2.0**-3, 448.0, 448 * 2.0**5, 449.0, 0.0, 1000.0]):
    U[r, 0] = a
    U[r, 1:] = np.linspace(-a, a, 127)
q, s = call("ue8m0", {"x": U})
sv = s.astype(np.float32)
check(list(sv[:4, 0]) == [0.125, 1.0, 32.0, 2.0] and sv[4, 0] == 2.0**-22 and sv[5, 0] == 4.0,
      "UE8M0 scales: 2^-3, 1, 2^5, 449 -> 2, zero tile -> 2^-22, 1000 -> 4")
rq, rs, _ = quantize_ref(U, [1, 128], ue8m0=True)
check(np.array_equal(sv.view(np.uint32), rs.view(np.uint32)) and np.array_equal(u8(q), u8(rq)),
      "UE8M0 quantized values bit-exact (divided by the rounded scale)")

# 6. 576 rows (kv_a_proj_with_mqa): the 5th scale row covers rows 512..575.
K = rng.standard_normal((576, 256)).astype(np.float32)
K[512:] *= 1000.0
K[448:512] *= 0.001
q, s = call("kv_a", {"w": K})
check(s.shape == (5, 2), "576 rows give 5 scale rows")
check(np.allclose(s[4], np.abs(K[512:]).reshape(64, 2, 128).max(axis=(0, 2)) / 448, rtol=0, atol=0)
      and np.array_equal(s[3], (np.abs(K[384:512]).reshape(128, 2, 128).max(axis=(0, 2)) / np.float32(448)).astype(np.float32)),
      "the last scale row covers rows 512..575 only")
rq, rs, _ = quantize_ref(K, [128, 128])
check(np.array_equal(u8(q), u8(rq)), "576x256 weight bit-exact")
