"""One FP8 dsv3.linear compiled by two builds of dsv3 (e.g. a copy of the
previous build and the current one), timed in one process by alternating
their calls, so that a noisy machine slows both alike. Prints each module's
minimum and median call time and weight bytes/s, their ratios, and whether
the two outputs are the same bits.

  /work/benchenv/bin/python bench/ab_fp8_linear.py --base /work/tools-base/bin \\
      --new build/bin [--shape 1536x7168] [--tokens 1] [--dynamic] [--threads 1] [--calls 600] [--new-args=--march=x86-64-v4]

The weight is [N, K] FP8 with 128 x 128 block scales, random, bound once;
with the default 1536 x 7168 (11 MB) it stays in a large L3 between calls,
so the figure is the kernel's instruction throughput more than DRAM's (use
bench/fp8_linear.py for weights streamed from DRAM). Both modules run on
this checkout's libdsv3rt (python/dsv3rt.py): the module ABI is shared.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "test", "Integration", "lib"))
import numpy as np  # noqa: E402
import ml_dtypes  # noqa: E402
import dsv3rt  # noqa: E402
from dsv3_testing import quantize_ref, save_safetensors  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--base", required=True, help="bin/ of the build to compare against")
p.add_argument("--new", default=os.path.join(ROOT, "build", "bin"))
p.add_argument("--shape", default="1536x7168", help="N x K of the weight")
p.add_argument("--tokens", type=int, default=1)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--calls", type=int, default=600, help="calls per module")
p.add_argument("--base-args", default="", help="extra dsv3-compile arguments for --base")
p.add_argument("--new-args", default="",
               help="extra dsv3-compile arguments for --new (e.g. --march=x86-64-v4)")
p.add_argument("--dynamic", action="store_true",
               help="a dynamic token count (tensor<?xK>): the path of an expert's tokens")
a = p.parse_args()
n, k = map(int, a.shape.split("x"))
m = a.tokens
tmp = tempfile.mkdtemp(prefix="dsv3-ab-")
rng = np.random.default_rng(0)
q, s, _ = quantize_ref(rng.standard_normal((n, k)).astype(np.float32), [128, 128])
save_safetensors(f"{tmp}/w.safetensors", {"w": q, "s": s})
sb = f"tensor<{s.shape[0]}x{s.shape[1]}xf32>"
with open(f"{tmp}/f.mlir", "w") as f:
    md = "?" if a.dynamic else m
    xattr = yattr = ""
    if a.dynamic:
        xattr = (' {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "t", min = 1 : i64, '
                 'max = 4096 : i64}]}')
        yattr = ' {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "t"}]}'
    f.write(f"""func.func @f(%x: tensor<{md}x{k}xbf16>{xattr}) -> (tensor<{md}x{n}xf32>{yattr}) {{
  %w = dsv3.parameter "w" : tensor<{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "s" : {sb}
  %y = dsv3.linear %x, %w weight_scale_inv(%s : {sb})
      : (tensor<{md}x{k}xbf16>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<{md}x{n}xf32>
  return %y : tensor<{md}x{n}xf32>
}}""")
session = dsv3rt.Session("host", a.threads)
mods = {}
for tag, bindir in (("base", a.base), ("new", a.new)):
    subprocess.run([os.path.join(bindir, "dsv3-compile"), f"{tmp}/f.mlir", "-o", f"{tmp}/{tag}.so"]
                   + (a.base_args if tag == "base" else a.new_args).split(), check=True)
    mods[tag] = session.load(f"{tmp}/{tag}.so")
    mods[tag].bind(f"{tmp}/w.safetensors")
x = rng.standard_normal((m, k)).astype(ml_dtypes.bfloat16)
times = {t: [] for t in mods}
outs = {}
for _ in range(a.calls):
    for tag, mod in mods.items():
        t0 = time.perf_counter()
        out = mod.call("f", x)
        times[tag].append(time.perf_counter() - t0)
        outs[tag] = np.asarray(out[0])
wbytes = q.nbytes + s.nbytes
print(f"linear [{n}, {k}], {m} {'dynamic ' if a.dynamic else ''}token(s), {a.threads} thread(s), {a.calls} alternating calls each")
for tag in mods:
    t = np.array(times[tag])
    print(f"  {tag:4s}  min {t.min() * 1e3:8.3f} ms ({wbytes / t.min() / 1e9:6.2f} GB/s)"
          f"  median {np.median(t) * 1e3:8.3f} ms")
print(f"  base / new: min {min(times['base']) / min(times['new']):.3f}x, "
      f"median {np.median(times['base']) / np.median(times['new']):.3f}x")
same = np.array_equal(outs["base"].view(np.uint32), outs["new"].view(np.uint32))
print(f"  same bits: {'yes' if same else 'NO'}")
sys.exit(0 if same else 1)
