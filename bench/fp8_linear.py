"""Decode-shaped FP8 linear on the host: achieved weight bytes/s of dsv3's
compiled dsv3.linear (weight-only FP8, f32 out) against memcpy with the same
number of threads, both measured in this run on this machine.

Each call streams its weights from DRAM: the function applies G copies of the
linear (distinct weights, G x the bytes > 3 x the L3 cache), and the time per
linear is the call's / G.

  DSV3_BIN=build/bin .venv/bin/python bench/fp8_linear.py [--runs 5] \
      [--tokens 1,4,16] [--threads 1,2] [--shapes q_a_proj,o_proj] [--ggml]
      [--weight-dtype bf16 --shapes lm_head]

--weight-dtype bf16 runs the same with unscaled bf16 weights (a bf16
checkpoint's lm_head: 2 bytes per weight).

At prefill sizes (--tokens 256) the product is compute bound; the GFLOP/s
column is then the figure, against the f32 FMA peak of bench/_fma_peak.py
(same threads, same run).

With --ggml (needs `llama-cpp-python`), llama.cpp's ggml runs the same
product in the same process run: the FP8 weights, dequantized, requantized
to ggml's Q8_0 (1.06 bytes per weight, vs FP8's 1.0 + scales), G copies
likewise, activations quantized to Q8_0 on the fly as llama.cpp does; the
`vs ggml` column is ggml's time / dsv3's (> 1: dsv3 is faster).
"""
import argparse
import subprocess
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "test", "Integration", "lib"))
from dsv3_testing import *  # noqa: E402,F403
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bandwidth import last_level_cache_bytes, memcpy_gbps  # noqa: E402
from _fma_peak import fma_peak_gflops  # noqa: E402

SHAPES = {  # V3 checkpoint shapes (docs/semantics.md §3.1), weight [N, K]
    "q_a_proj": (1536, 7168),
    "q_b_proj": (24576, 1536),
    "kv_a_proj_with_mqa": (576, 7168),
    "o_proj": (7168, 16384),
    "experts.down_proj": (7168, 2048),
    "lm_head": (129280, 7168),  # not in the default list (1.85 GB in bf16)
}
p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=5)
p.add_argument("--tokens", default="1,4,16")
p.add_argument("--threads", default="1,2")
p.add_argument("--shapes", default=",".join(n for n in SHAPES if n != "lm_head"),
               help="which of the V3 weights")
p.add_argument("--weight-dtype", choices=["fp8", "bf16"], default="fp8",
               help="FP8 with 128 x 128 block scales, or bf16 without a scale")
p.add_argument("--l3-bytes", type=int, default=last_level_cache_bytes(),
               help="last-level cache size (default: from sysfs, %(default)s here)")
p.add_argument("--ggml", action="store_true", help="compare with llama.cpp's ggml Q8_0")
p.add_argument("--compile-args", default="",
               help="extra dsv3-compile arguments, e.g. --march=x86-64-v4 (AVX-512 kernels)")
args = p.parse_args()
tmp = tempfile.mkdtemp(prefix="dsv3-bench-")
rng = np.random.default_rng(0)
thread_counts = [int(t) for t in args.threads.split(",")]
ggml = None
if args.ggml:
    import _ggml
    ggml = _ggml.Ggml()
memcpy = {t: memcpy_gbps(t, runs=args.runs) for t in thread_counts}
print("memcpy GB/s: " + ", ".join(f"{t} thread(s) {g:.2f}" for t, g in memcpy.items()))
peak = {t: fma_peak_gflops(t) for t in thread_counts}
print("f32 FMA peak GFLOP/s (bench/_fma_peak.py): "
      + ", ".join(f"{t} thread(s) {g:.1f}" for t, g in peak.items()))


print(f"{'weight':20s} {'M':>3s} {'thr':>3s} {'ms':>9s} {'weights GB/s':>13s} {'memcpy GB/s':>12s} "
      f"{'ratio':>6s} {'GFLOP/s':>8s} {'/ peak':>6s}" + (f" {'ggml ms':>9s} {'vs ggml':>8s}" if ggml else ""))
for name in args.shapes.split(","):
    n, k = SHAPES[name]
    bf16 = args.weight_dtype == "bf16"
    if bf16:
        q, s = rng.standard_normal((n, k), np.float32).astype(ml_dtypes.bfloat16), None
        wbytes = q.nbytes
    else:
        q, s, _ = quantize_ref(rng.standard_normal((n, k)).astype(np.float32), [128, 128])
        wbytes = q.nbytes + s.nbytes
    copies = max(1, -(-3 * args.l3_bytes // wbytes))
    wfile = f"{tmp}/{name}.safetensors"
    tensors = {}
    for c in range(copies):  # distinct bytes per copy
        tensors[f"w{c}"] = np.roll(q, c, axis=1)
        if not bf16:
            tensors[f"s{c}"] = s
    save_safetensors(wfile, tensors)
    if ggml:
        # The same weights for ggml: dequantized, then Q8_0 (copy c rolled
        # like dsv3's copy c).
        deq = (q.astype(np.float32) if bf16 else
               q.astype(np.float32) * np.repeat(np.repeat(s, 128, 0), 128, 1)[:n, :k])
        gctx = ggml.context(copies * ggml.base.ggml_row_size(_ggml.GGML_TYPE_Q8_0, k) * n)
        gw = [ggml.q8_0(gctx, [np.roll(deq, c, axis=1)], (k, n)) for c in range(copies)]
        del deq
    for m in map(int, args.tokens.split(",")):
        if bf16:
            body = "".join(f"""  %w{c} = dsv3.parameter "w{c}" : tensor<{n}x{k}xbf16>
  %y{c} = dsv3.linear %x, %w{c} : (tensor<{m}x{k}xbf16>, tensor<{n}x{k}xbf16>) -> tensor<{m}x{n}xf32>
""" for c in range(copies))
        else:
            sb = f"tensor<{s.shape[0]}x{s.shape[1]}xf32>"
            body = "".join(f"""  %w{c} = dsv3.parameter "w{c}" : tensor<{n}x{k}xf8E4M3FN>
  %s{c} = dsv3.parameter "s{c}" : {sb}
  %y{c} = dsv3.linear %x, %w{c} weight_scale_inv(%s{c} : {sb})
      : (tensor<{m}x{k}xbf16>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<{m}x{n}xf32>
""" for c in range(copies))
        types = ", ".join([f"tensor<{m}x{n}xf32>"] * copies)
        g = f"""func.func @f(%x: tensor<{m}x{k}xbf16>) -> ({types}) {{
{body}  return {", ".join(f"%y{c}" for c in range(copies))} : {types}
}}"""
        base = f"{tmp}/{name}_{m}"
        with open(base + ".mlir", "w") as f:
            f.write(g)
        subprocess.run([tool("dsv3-compile"), base + ".mlir", "-o", base + ".so"]
                       + args.compile_args.split(), check=True)
        x = rng.standard_normal((m, k)).astype(ml_dtypes.bfloat16)
        save_safetensors(base + ".x.safetensors", {"x": x})
        for t in thread_counts:
            r = subprocess.run([tool("dsv3-run"), base + ".so", "--function=f", f"--parameters={wfile}",
                                f"--input=@{base}.x.safetensors:x", f"--benchmark={args.runs}",
                                f"--threads={t}"] + ["--output=none"] * copies,
                               check=True, capture_output=True, text=True)
            ms = float(re.search(r"min ([0-9.]+) ms", r.stdout).group(1)) / copies
            gbps = wbytes / (ms / 1e3) / 1e9
            gflops = 2 * m * n * k / (ms / 1e3) / 1e9
            line = (f"{name:20s} {m:3d} {t:3d} {ms:9.3f} {gbps:13.2f} {memcpy[t]:12.2f} "
                    f"{gbps / memcpy[t]:6.3f} {gflops:8.1f} {gflops / peak[t]:6.3f}")
            if ggml:
                # Activations, the copies' outputs, the graph and its work
                # buffer in a context of their own, freed after the run: kept
                # in the weights' context they added up over the (M, threads)
                # runs and overflowed it where the L3 is large (many copies).
                ictx = ggml.context(copies * n * m * 4 + m * k * 4)
                gx = ggml.array(ictx, x.astype(np.float32), _ggml.GGML_TYPE_F32)
                outs = [ggml.base.ggml_mul_mat(ictx, w, gx) for w in gw]
                gms = ggml.time_graph(ictx, outs, t, args.runs) * 1e3 / copies
                ggml.base.ggml_free(ictx)
                line += f" {gms:9.3f} {gms / ms:8.2f}"
            print(line, flush=True)
    if ggml:
        ggml.base.ggml_free(gctx)
