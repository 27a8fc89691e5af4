"""The MoE expert GEMM on the host: dsv3.expert_dispatch + dsv3.grouped_matmul
(64 FP8 experts of DeepSeek-V3's gate_proj shape [2048, 7168], 8 experts per
token, T tokens) against llama.cpp's ggml_mul_mat_id on the same experts
requantized to Q8_0, and against memcpy, all measured in this run.

  DSV3_BIN=build/bin /work/benchenv/bin/python bench/grouped_gemm.py \\
      [--tokens 1,4,16] [--threads 1,2] [--runs 3] [--no-ggml]

GB/s counts the bytes of the experts the tokens are routed to (each read
once per call: 8 experts for T = 1, up to 64 for larger T), over 100 MB per
call, so from DRAM. `vs ggml` is ggml's time / dsv3's (> 1: dsv3 faster).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "Integration", "lib"))
from dsv3_testing import *  # noqa: E402,F403
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bandwidth import memcpy_gbps  # noqa: E402

E, TOPK, N, K = 64, 8, 2048, 7168
p = argparse.ArgumentParser()
p.add_argument("--tokens", default="1,4,16")
p.add_argument("--threads", default="1,2")
p.add_argument("--runs", type=int, default=3)
p.add_argument("--no-ggml", action="store_true")
args = p.parse_args()
tmp = tempfile.mkdtemp(prefix="dsv3-bench-")
rng = np.random.default_rng(0)
threads = [int(t) for t in args.threads.split(",")]
memcpy = {t: memcpy_gbps(t) for t in threads}
print("memcpy GB/s: " + ", ".join(f"{t} thread(s) {g:.2f}" for t, g in memcpy.items()))

# Random finite e4m3 codes (no NaN: 0x7f, 0xff) and block scales.
codes = rng.integers(0, 254, (E, N, K), dtype=np.uint8)
codes[codes >= 0x7f] += 1
scales = rng.uniform(1e-3, 2e-3, (E, N // 128, K // 128)).astype(np.float32)
params = {}
for e in range(E):
    params[f"experts.{e}.w"] = codes[e].view(ml_dtypes.float8_e4m3fn)
    params[f"experts.{e}.s"] = scales[e]
save_safetensors(f"{tmp}/experts.safetensors", params)
del params

ggml = gctx = gw = None
if not args.no_ggml:
    import _ggml
    ggml = _ggml.Ggml()
    gctx = ggml.context(E * N * ggml.base.ggml_row_size(_ggml.GGML_TYPE_Q8_0, K))
    gw = ggml.q8_0(gctx, (codes[e].view(ml_dtypes.float8_e4m3fn).astype(np.float32)
                          * np.repeat(np.repeat(scales[e], 128, 0), 128, 1)
                          for e in range(E)), (K, N, E))

print(f"{'T':>3s} {'thr':>3s} {'experts':>7s} {'dsv3 ms':>9s} {'GB/s':>7s} {'memcpy':>7s} "
      f"{'ratio':>6s}" + (f" {'ggml ms':>9s} {'vs ggml':>8s}" if ggml else ""))
for t in map(int, args.tokens.split(",")):
    ids = np.stack([rng.choice(E, TOPK, replace=False) for _ in range(t)]).astype(np.int32)
    x = rng.standard_normal((t, K)).astype(ml_dtypes.bfloat16)
    r = t * TOPK
    g = f"""func.func @f(%x: tensor<{t}x{K}xbf16>, %ids: tensor<{t}x{TOPK}xi32>) -> tensor<{r}x{N}xf32> {{
  %w = dsv3.parameter "experts.{{e}}.w" stacked : tensor<{E}x{N}x{K}xf8E4M3FN>
  %s = dsv3.parameter "experts.{{e}}.s" stacked : tensor<{E}x{N // 128}x{K // 128}xf32>
  %rows, %off, %tok = dsv3.expert_dispatch %x, %ids alignment(1)
      : (tensor<{t}x{K}xbf16>, tensor<{t}x{TOPK}xi32>) -> tensor<{r}x{K}xbf16>, tensor<{E + 1}xi64>, tensor<{r}xi64>
  %y = dsv3.grouped_matmul %rows, %w, %off weight_scale_inv(%s : tensor<{E}x{N // 128}x{K // 128}xf32>)
      : (tensor<{r}x{K}xbf16>, tensor<{E}x{N}x{K}xf8E4M3FN>, tensor<{E + 1}xi64>) -> tensor<{r}x{N}xf32>
  return %y : tensor<{r}x{N}xf32>
}}"""
    base = f"{tmp}/g{t}"
    with open(base + ".mlir", "w") as f:
        f.write(g)
    subprocess.run([tool("dsv3-compile"), base + ".mlir", "-o", base + ".so"], check=True)
    save_safetensors(base + ".in.safetensors", {"x": x, "ids": ids})
    active = len(np.unique(ids))
    nbytes = active * (N * K + scales[0].nbytes)
    if ggml:
        gx = ggml.array(gctx, x.astype(np.float32).reshape(t, 1, K), _ggml.GGML_TYPE_F32)
        gids = ggml.array(gctx, ids, _ggml.GGML_TYPE_I32)
        gy = ggml.base.ggml_mul_mat_id(gctx, gw, gx, gids)
    for n in threads:
        out = subprocess.run([tool("dsv3-run"), base + ".so", f"--parameters={tmp}/experts.safetensors",
                              f"--input=@{base}.in.safetensors:x", f"--input=@{base}.in.safetensors:ids",
                              f"--benchmark={args.runs}", f"--threads={n}", "--output=none"],
                             check=True, capture_output=True, text=True).stdout
        ms = float(re.search(r"min ([0-9.]+) ms", out).group(1))
        gbps = nbytes / (ms / 1e3) / 1e9
        line = (f"{t:3d} {n:3d} {active:7d} {ms:9.3f} {gbps:7.2f} {memcpy[n]:7.2f} "
                f"{gbps / memcpy[n]:6.3f}")
        if ggml:
            gms = ggml.time_graph(gctx, [gy], n, args.runs) * 1e3
            line += f" {gms:9.3f} {gms / ms:8.2f}"
        print(line, flush=True)
