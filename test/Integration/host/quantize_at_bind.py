"""Block FP8 quantization at bind time (lib/Runtime/QuantizeFP8.cpp) against
the compiled dsv3.quantize and ml_dtypes (quantize_ref)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

model, out = sys.argv[1], sys.argv[2]
E4M3 = ml_dtypes.float8_e4m3fn
BF16 = ml_dtypes.bfloat16
rng = np.random.default_rng(7)


def u8(a):
    return np.asarray(a).view(np.uint8)


# A [300, 400] weight: 3 x 4 blocks of 128 x 128, the last row of blocks 44
# rows high and the last column 16 wide. Block (0, 0) holds every finite bf16
# value of magnitude <= 448 with anchor 448 (scale exactly 1: every rounding
# case of the cast, ties included); block (1, 1) is all zero; block (0, 1)
# has a NaN; block (2, 2) an inf; the rest is N(0, 1) with non-power-of-two
# scales.
N, K = 300, 400
W = rng.standard_normal((N, K)).astype(np.float32)
bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(BF16)
f = bits.astype(np.float32)
sweep = f[np.isfinite(f) & (np.abs(f) <= 448)]
W[:128, :128] = np.resize(sweep, 128 * 128).reshape(128, 128)
W[0, 0] = 448.0
W[128:256, 128:256] = 0.0
W[5, 200] = np.nan
W[260, 300] = np.inf
Wb = W.astype(BF16)
Wf = rng.standard_normal((N, K)).astype(np.float32) * np.float32(3e-3)
SN, SK = -(-N // 128), -(-K // 128)

graph = f"""
func.func @compiled() -> (tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>, tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>) {{
  %w = dsv3.parameter "w" : tensor<{N}x{K}xbf16>
  %q, %s = dsv3.quantize %w block [128, 128] : tensor<{N}x{K}xbf16> -> tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>
  %wf = dsv3.parameter "wf" : tensor<{N}x{K}xf32>
  %qf, %sf = dsv3.quantize %wf block [128, 128] : tensor<{N}x{K}xf32> -> tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>
  return %q, %s, %qf, %sf : tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>, tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>
}}
func.func @derived() -> (tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>, tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>) {{
  %q = dsv3.parameter "w_copy" quantized_from(bf16) : tensor<{N}x{K}xf8E4M3FN>
  %s = dsv3.parameter "w_copy_scale_inv" scales_of "w_copy" : tensor<{SN}x{SK}xf32>
  %qf = dsv3.parameter "wf_copy" quantized_from(f32) : tensor<{N}x{K}xf8E4M3FN>
  %sf = dsv3.parameter "wf_copy_scale_inv" scales_of "wf_copy" : tensor<{SN}x{SK}xf32>
  return %q, %s, %qf, %sf : tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>, tensor<{N}x{K}xf8E4M3FN>, tensor<{SN}x{SK}xf32>
}}
"""
with open(f"{out}/q.mlir", "w") as fh:
    fh.write(graph)
run(["dsv3-compile", f"{out}/q.mlir", "--target=host", "-o", f"{out}/q.so"])
params = f"{out}/w.safetensors"
save_safetensors(params, {"w": Wb, "w_copy": Wb, "wf": Wf, "wf_copy": Wf})


def call(fn):
    outs = [f"{out}/{fn}.out{i}.safetensors" for i in range(4)]
    run(["dsv3-run", f"{out}/q.so", f"--function={fn}", f"--parameters={params}"]
        + [f"--output=@{o}" for o in outs])
    return [next(iter(load_safetensors(o).values())) for o in outs]


cq, cs, cqf, csf = call("compiled")
dq, ds, dqf, dsf = call("derived")
rq, rs, _ = quantize_ref(Wb, [128, 128])
rqf, rsf, _ = quantize_ref(Wf, [128, 128])
check(np.array_equal(ds.view(np.uint32), cs.view(np.uint32))
      and np.array_equal(ds.view(np.uint32), rs.view(np.uint32)),
      f"bf16 [{N}, {K}]: the {SN}x{SK} block scales bound equal dsv3.quantize's and ml_dtypes'")
check(np.array_equal(u8(dq), u8(cq)), "bf16: every FP8 code bound equals dsv3.quantize's")
nan = np.isnan(rq.astype(np.float32))
check(np.array_equal(u8(dq)[~nan], u8(rq)[~nan]) and np.all(np.isin(u8(dq)[nan], [0x7F, 0xFF])),
      "bf16: every code equals ml_dtypes' (NaN: a NaN code)")
check(ds[0, 0] == 1.0 and np.isinf(ds[2, 2]) and ds[1, 1] == np.float32(np.float32(1e-4) / np.float32(448)),
      "block (0,0) has scale 1 (the full bf16 sweep), (2,2) inf, the zero block 1e-4/448")
check(np.isnan(dq[5, 200].astype(np.float32)) and not u8(dq)[128:256, 128:256].any(),
      "the NaN stays NaN and the zero block gives zero codes")
sat = np.abs(Wb.astype(np.float32) / np.repeat(np.repeat(rs, 128, 0), 128, 1)[:N, :K]) > 448
check(np.all(np.isin(u8(dq)[sat & ~nan], [0x7E, 0xFE])), f"{int((sat & ~nan).sum())} values past 448 saturate")
check(np.array_equal(dsf.view(np.uint32), csf.view(np.uint32)) and np.array_equal(u8(dqf), u8(cqf))
      and np.array_equal(u8(dqf), u8(rqf)), "f32 weight: codes and scales equal dsv3.quantize's and ml_dtypes'")

# The checkpoint's dtype must be the one the module quantizes from.
bad = f"{out}/bad.safetensors"
save_safetensors(bad, {"w": Wb, "w_copy": Wb.astype(np.float32), "wf": Wf, "wf_copy": Wf})
_, err = run(["dsv3-run", f"{out}/q.so", "--function=derived", f"--parameters={bad}",
              f"--output=@{out}/x0", f"--output=@{out}/x1", f"--output=@{out}/x2", f"--output=@{out}/x3"],
             expect_fail=True)
check('parameter "w_copy"' in err and "expected bf16[300,400] (the module quantizes it to f8e4m3fn[300,400]"
      in err and "found f32[300,400]" in err, "a checkpoint storing the weight as f32 is refused by name")

# The tiny V3 model with its lm_head quantized at bind time, f32 activations:
# every prompt position's logits against the float64 reference whose lm_head
# is the ml_dtypes quantization of the checkpoint's, to the bound the f32
# graph meets with the bf16 head (tiny_models.py, 1e-4). Against the bf16
# head's reference they differ by far more: the head really is FP8.
sys.path.insert(0, os.path.join(model, ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
import np_reference  # noqa: E402
import dsv3rt  # noqa: E402

run(["dsv3-import", model, "-o", f"{out}/m.mlir", "--quantize-lm-head", "--max-seq-len=32",
     "--mtp=off", "--activation-type=f32", "--prefill-logits=all"])
text = open(f"{out}/m.mlir").read()
check('dsv3.parameter "lm_head.weight" quantized_from(bf16)' in text
      and 'dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight"' in text,
      "dsv3-import --quantize-lm-head reads lm_head as FP8 codes and block scales")
run(["dsv3-compile", f"{out}/m.mlir", "--target=host", "-o", f"{out}/m.so"])
ref = np.load(os.path.join(model, "reference.npz"))
ids = [int(t) for t in ref["input_ids"]]
session = dsv3rt.Session()
module = session.load(f"{out}/m.so")
module.bind(model)
n = len(ids)
logits = module.call("prefill", np.array([ids], np.int64), np.arange(n, dtype=np.int64)[None],
                     np.array([0], np.int64), np.array([n], np.int64))[0]

w = np_reference.load(model)
f64_bf16_head = np_reference.forward(model, ids, w=w)
raw = {}
for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
    raw.update(load_safetensors(os.path.join(model, shard)))
hq, hs, _ = quantize_ref(raw["lm_head.weight"], [128, 128])
V, H = hq.shape
w["lm_head.weight"] = hq.astype(np.float64) * np.repeat(np.repeat(hs.astype(np.float64), 128, 0), 128, 1)[:V, :H]
f64_fp8_head = np_reference.forward(model, ids, w=w)


def max_rel(got, want):
    want = np.asarray(want, np.float64)
    return float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())


e_fp8, e_bf16 = max_rel(logits, f64_fp8_head), max_rel(logits, f64_bf16_head)
print(f"prefill of {n} tokens: max-abs relative error vs float64 with the FP8 head {e_fp8:.2e}, "
      f"with the bf16 head {e_bf16:.2e}")
check(e_fp8 <= 1e-4, f"logits of all {n} positions equal float64 with the quantized head to {e_fp8:.2e} <= 1e-4")
check(e_bf16 > 100 * e_fp8, "and differ from the bf16 head's by the FP8 rounding (100x more)")
