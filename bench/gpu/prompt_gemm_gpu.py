"""The cuda strategy's tiled GEMM for prompts (dsv3-gpu-tiled-gemm) at
DeepSeek-V3's prefill shapes on a lent GPU: each projection of a 4096-token
prompt, and the routed experts' gate_proj as a grouped GEMM over 4096 routed
rows, as cuda module functions with a dynamic token count, timed by dsv3-run
--benchmark (CUDA events per kernel), against PyTorch on the same GPU in the
same run, with the error against PyTorch's f32 product on the dequantized
weights.
NOTE: written on a machine without a GPU; not yet run on one.

Two steps, as bench/gpu/decode_gemv_gpu.py:

1. Here (LLVM available):

     python3 bench/gpu/prompt_gemm_gpu.py prepare --carry build-gemm-gpu

   compiles the graph for cuda (and for cuda-sim, so that `run --device
   host` checks this script here) and copies dsv3-run and libdsv3rt.so.

2. On the device:

     python3 bench/gpu/prompt_gemm_gpu.py run --carry build-gemm-gpu

   writes random FP8 codes and block scales (numpy, seeded), runs each
   function on M tokens (4096), and prints one table: function, M x N x K,
   dsv3 time, TFLOP/s and its fraction of the H200's dense FP8 peak (1979
   TFLOP/s; the kernel runs on CUDA cores, so the f32 peak of 67 TFLOP/s is
   printed too), PyTorch's time for the same product in bf16 on the
   dequantized weight, `torch._scaled_mm` on FP8 operands of the same shape
   (what tensor cores give; its activations are quantized per tensor, so it
   is a yardstick, not the same computation), and the relative error of
   dsv3's output against PyTorch's f32 product.

   `run --device host --carry DIR` runs the cuda-sim modules on small
   shapes (--scale-down) with numpy float64 references instead.
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from decode_gemv_gpu import (bf16_to_f32, cuda_timed, e4m3_values, fill_carry,  # noqa: E402
                             random_bf16, save_safetensors)

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PEAK_FP8_TFLOPS, PEAK_F32_TFLOPS = 1979.0, 67.0  # H200 SXM, dense

# name: (N, K, kind); "experts": E stacked experts, the M routed rows split
# evenly over them (each expert's rows read its weight once per row tile).
SHAPES = {
    "q_a_proj": (1536, 7168, "fp8"),
    "q_b_proj": (24576, 1536, "fp8"),
    "kv_a_proj_with_mqa": (576, 7168, "fp8"),
    "o_proj": (7168, 16384, "fp8"),
    "experts_gate_proj": (2048, 7168, "experts"),
}
M, E = 4096, 32
DYN = '{dsv3.name = "x", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens", min = 1 : i64, max = 65536 : i64}]}'
RES = '{dsv3.name = "y", dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens"}]}'


def graph(shapes, experts):
    fns = []
    for name, (n, k, kind) in shapes.items():
        kb, nb = -(-k // 128), -(-n // 128)
        if kind == "fp8":
            fns.append(f"""
func.func @{name}(%x: tensor<?x{k}xbf16> {DYN}) -> (tensor<?x{n}xf32> {RES}) {{
  %w = dsv3.parameter "{name}.weight" : tensor<{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "{name}.weight_scale_inv" : tensor<{nb}x{kb}xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<{nb}x{kb}xf32>)
      : (tensor<?x{k}xbf16>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}""")
        else:
            fns.append(f"""
func.func @{name}(%x: tensor<?x{k}xbf16> {DYN}, %off: tensor<{experts + 1}xi64> {{dsv3.name = "off"}})
    -> (tensor<?x{n}xf32> {RES}) {{
  %w = dsv3.parameter "{name}.weight" : tensor<{experts}x{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "{name}.weight_scale_inv" : tensor<{experts}x{nb}x{kb}xf32>
  %y = dsv3.grouped_matmul %x, %w, %off weight_scale_inv(%s : tensor<{experts}x{nb}x{kb}xf32>)
      : (tensor<?x{k}xbf16>, tensor<{experts}x{n}x{k}xf8E4M3FN>, tensor<{experts + 1}xi64>) -> tensor<?x{n}xf32>
  return %y : tensor<?x{n}xf32>
}}""")
    return "\n".join(fns) + "\n"


def small(scale_down):
    """Shapes for the host check: N and K divided, kept multiples of 64 and
    of 128 plus a partial block."""
    return {name: (max(64, n // scale_down // 64 * 64), max(128, k // scale_down // 128 * 128) + 64, kind)
            for name, (n, k, kind) in SHAPES.items()}


def prepare(a):
    fill_carry(a.carry, a.bin, {"gemm": graph(SHAPES, E), "gemm.small": graph(small(16), 4)},
               "prompt_gemm_gpu.py")


def random_weights(rng, shapes, experts):
    """FP8 codes (no NaN codes) and block scales in [2^-10, 2^-6)."""
    t = {}
    for name, (n, k, kind) in shapes.items():
        lead = (experts,) if kind == "experts" else ()
        codes = rng.integers(0, 256, size=lead + (n, k), dtype=np.uint8)
        codes[(codes & 0x7F) == 0x7F] = 0
        scale = np.exp2(rng.uniform(-10, -6, size=lead + (-(-n // 128), -(-k // 128))))
        t[name + ".weight"], t[name + ".weight_scale_inv"] = codes, scale.astype(np.float32)
    return t


def dequantized(codes, scale, n, k, lut):
    return lut[codes] * np.repeat(np.repeat(scale.astype(np.float64), 128, 0), 128, 1)[:n, :k]


def run(a):
    cuda = a.device == "cuda"
    shapes, experts, m = (SHAPES, E, a.tokens) if cuda else (small(a.scale_down), 4, a.tokens_host)
    tag = "" if cuda else ".small"
    so = os.path.join(a.carry, f"gemm{tag}.{'cuda' if cuda else 'cuda-sim'}.so")
    os.makedirs(a.work, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    wfile = os.path.join(a.work, f"gemm{tag}.safetensors")
    weights = random_weights(rng, shapes, experts)
    save_safetensors(wfile, weights)
    k_max = max(k for _, k, _ in shapes.values())
    xbits = random_bf16(rng, (m, k_max))
    # The routed rows split evenly over the experts (the last takes the rest).
    off = np.minimum(np.arange(experts + 1, dtype=np.int64) * (m // experts), m)
    off[-1] = m
    dsv3_run = os.path.join(a.carry, "bin", "dsv3-run")
    lut = e4m3_values()

    torch = None
    if cuda:
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])

    rows = []
    for name, (n, k, kind) in shapes.items():
        x = xbits[:, :k]
        inputs = {"x": x}
        if kind == "experts":
            inputs["off"] = off
        xfile = os.path.join(a.work, f"x_{name}.safetensors")
        save_safetensors(xfile, inputs)
        yfile = os.path.join(a.work, f"y_{name}.npy")
        cmd = [dsv3_run, so, f"--device={a.device}", f"--function={name}", f"--parameters={wfile}",
               f"--input=@{xfile}:x"] + ([f"--input=@{xfile}:off"] if kind == "experts" else []) + \
              [f"--output=@{yfile}", f"--benchmark={a.calls}"]
        ms, y = None, None
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
            print(r.stdout + r.stderr, end="", flush=True)
            if r.returncode == 0:
                ms = float(re.search(r"min ([0-9.]+) ms", r.stdout).group(1))
                y = np.load(yfile).astype(np.float64)
        except subprocess.TimeoutExpired:
            print(f"{name}: dsv3-run did not finish in {a.timeout} s")

        codes, scale = weights[name + ".weight"], weights[name + ".weight_scale_inv"]
        xf = bf16_to_f32(x).astype(np.float64)
        t16 = t8 = None
        if torch is None:  # host check: numpy float64 references
            if kind == "fp8":
                ref = xf @ dequantized(codes, scale, n, k, lut).T
            else:
                ref = np.zeros((m, n))
                for e in range(experts):
                    lo, hi = off[e], off[e + 1]
                    ref[lo:hi] = xf[lo:hi] @ dequantized(codes[e], scale[e], n, k, lut).T
        else:
            dev = torch.device("cuda")
            xt = torch.from_numpy(xf.astype(np.float32)).to(dev)
            lt = torch.from_numpy(lut.astype(np.float32)).to(dev)

            def deq(c, s):
                c = torch.from_numpy(c).to(dev).long()
                s = torch.from_numpy(s).to(dev)
                return lt[c] * s.repeat_interleave(128, 0).repeat_interleave(128, 1)[:n, :k]
            if kind == "fp8":
                parts = [(0, m, deq(codes, scale))]
            else:
                parts = [(off[e], off[e + 1], deq(codes[e], scale[e])) for e in range(experts)]
            ref = torch.cat([xt[lo:hi] @ w.T for lo, hi, w in parts]).double().cpu().numpy()

            def timed(f):
                return cuda_timed(torch, f)
            w16 = [(lo, hi, w.to(torch.bfloat16)) for lo, hi, w in parts]
            x16 = xt.to(torch.bfloat16)
            t16 = timed(lambda: [x16[lo:hi] @ w.T for lo, hi, w in w16])
            try:
                x8 = xt.to(torch.float8_e4m3fn)
                w8 = [(lo, hi, w.to(torch.float8_e4m3fn)) for lo, hi, w in parts]
                one = torch.ones((), device=dev)
                t8 = timed(lambda: [torch._scaled_mm(x8[lo:hi], w.T, scale_a=one, scale_b=one,
                                                     out_dtype=torch.float32)
                                    for lo, hi, w in w8])
            except Exception as e:  # noqa: BLE001 (an older PyTorch)
                print(f"{name}: torch._scaled_mm unavailable: {e}")
            del parts, w16
        err = None if y is None else float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
        rows.append((name, f"{m}x{n}x{k}", ms, 2.0 * m * n * k, t16, t8, err))

    print(f"\n{'function':20s} {'M x N x K':>20s} {'dsv3 ms':>8s} {'TFLOP/s':>8s} {'of FP8':>7s} "
          f"{'of f32':>7s} {'torch bf16 ms':>13s} {'scaled_mm ms':>12s} {'rel err':>9s}")
    for name, shape, ms, flops, t16, t8, err in rows:
        tf = flops / (ms / 1e3) / 1e12 if ms else None
        print(f"{name:20s} {shape:>20s} "
              + (f"{ms:8.3f} {tf:8.2f} {tf / PEAK_FP8_TFLOPS:7.4f} {tf / PEAK_F32_TFLOPS:7.3f} "
                 if ms else f"{'failed':>8s} {'-':>8s} {'-':>7s} {'-':>7s} ")
              + (f"{t16:13.3f} " if t16 is not None else f"{'-':>13s} ")
              + (f"{t8:12.3f} " if t8 is not None else f"{'-':>12s} ")
              + (f"{err:9.1e}" if err is not None else f"{'-':>9s}"))
    print("TFLOP/s: 2 M N K / min of dsv3-run --benchmark calls. rel err: |dsv3 - ref| / |ref| "
          "(Frobenius), ref = " + ("PyTorch f32 (TF32 off) on the dequantized weights."
                                   if torch else "numpy float64."))
    bad = [r[0] for r in rows if r[6] is None or r[6] > 1e-5]
    if bad:
        print("FAILED or above 1e-5:", ", ".join(bad))
        sys.exit(1)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="here: compile the modules, fill the carry folder")
    pp.add_argument("--carry", required=True)
    pp.add_argument("--bin", default=os.environ.get("DSV3_BIN", os.path.join(root, "build", "bin")))
    pr = sub.add_parser("run", help="on the device (or --device host: the cuda-sim check here)")
    pr.add_argument("--carry", required=True)
    pr.add_argument("--device", default="cuda", choices=("cuda", "host"))
    pr.add_argument("--work", default="/tmp/gemm-gpu")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--tokens", type=int, default=M)
    pr.add_argument("--tokens-host", type=int, default=100)
    pr.add_argument("--calls", type=int, default=10)
    pr.add_argument("--scale-down", type=int, default=16, help="host check: N and K / this")
    pr.add_argument("--timeout", type=int, default=300)
    a = p.parse_args()
    prepare(a) if a.cmd == "prepare" else run(a)


if __name__ == "__main__":
    main()
