"""The cuda strategy's decode GEMV kernels (dsv3-gpu-decode-linear) at
DeepSeek-V3's decode shapes on a lent GPU: each projection of one decode
token as its own cuda module function, timed by dsv3-run --benchmark (CUDA
events per kernel), against PyTorch on the same GPU in the same run, with the
error against PyTorch's f32 product on the dequantized weights.
NOTE: written on a machine without a GPU; not yet run on one.

Two steps.

1. Here (LLVM available):

     python3 bench/gpu/decode_gemv_gpu.py prepare --carry build-gemv-gpu

   compiles the graph below for cuda (and for cuda-sim, so that
   `run --device host` can check this script here) and copies dsv3-run and
   libdsv3rt.so next to the modules (a few MiB). No weights are carried.

2. On the device:

     python3 bench/gpu/decode_gemv_gpu.py run --carry build-gemv-gpu

   writes random FP8 codes (no NaN codes) with plausible block scales and a
   random bf16 lm_head (numpy, seeded; ~2.5 GB under --work), runs each
   function, and prints one table: function, shape, dsv3 time, weight GB/s
   and its fraction of the H200's 4.8 TB/s, PyTorch's time for the same
   product in bf16 (`x @ W.T` on the dequantized weight, which reads twice
   the bytes) and in f32, and the relative error of dsv3's output against
   PyTorch's f32 product.

   `run --device host --carry DIR` runs the cuda-sim modules with numpy
   references instead (small weights: --scale-down), to check the script.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PEAK_TBS = 4.8  # H200 HBM3e

# name: (N, K, weight kind); "experts": 8 routed rows, one per expert, of E
# stacked experts (E = 32 here to keep the weights small; each block reads
# only its row's expert, so E does not change the bytes read).
SHAPES = {
    "q_a_proj": (1536, 7168, "fp8"),
    "q_b_proj": (24576, 1536, "fp8"),
    "kv_a_proj_with_mqa": (576, 7168, "fp8"),
    "o_proj": (7168, 16384, "fp8"),
    "experts_gate_proj": (2048, 7168, "experts"),
    "lm_head": (129280, 7168, "bf16"),
}
E, ROUTED = 32, 8


def graph(shapes):
    fns = []
    for name, (n, k, kind) in shapes.items():
        kb, nb = -(-k // 128), -(-n // 128)
        if kind == "fp8":
            fns.append(f"""
func.func @{name}(%x: tensor<1x{k}xbf16>) -> tensor<1x{n}xf32> {{
  %w = dsv3.parameter "{name}.weight" : tensor<{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "{name}.weight_scale_inv" : tensor<{nb}x{kb}xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<{nb}x{kb}xf32>)
      : (tensor<1x{k}xbf16>, tensor<{n}x{k}xf8E4M3FN>) -> tensor<1x{n}xf32>
  return %y : tensor<1x{n}xf32>
}}""")
        elif kind == "bf16":
            fns.append(f"""
func.func @{name}(%x: tensor<1x{k}xbf16>) -> tensor<1x{n}xf32> {{
  %w = dsv3.parameter "{name}.weight" : tensor<{n}x{k}xbf16>
  %y = dsv3.linear %x, %w : (tensor<1x{k}xbf16>, tensor<{n}x{k}xbf16>) -> tensor<1x{n}xf32>
  return %y : tensor<1x{n}xf32>
}}""")
        else:
            fns.append(f"""
func.func @{name}(%x: tensor<{ROUTED}x{k}xbf16>, %off: tensor<{E + 1}xi64>) -> tensor<{ROUTED}x{n}xf32> {{
  %w = dsv3.parameter "{name}.weight" : tensor<{E}x{n}x{k}xf8E4M3FN>
  %s = dsv3.parameter "{name}.weight_scale_inv" : tensor<{E}x{nb}x{kb}xf32>
  %y = dsv3.grouped_matmul %x, %w, %off weight_scale_inv(%s : tensor<{E}x{nb}x{kb}xf32>)
      : (tensor<{ROUTED}x{k}xbf16>, tensor<{E}x{n}x{k}xf8E4M3FN>, tensor<{E + 1}xi64>) -> tensor<{ROUTED}x{n}xf32>
  return %y : tensor<{ROUTED}x{n}xf32>
}}""")
    return "\n".join(fns) + "\n"


def shapes_for(scale_down):
    if scale_down <= 1:
        return SHAPES
    return {name: (max(128, n // scale_down // 128 * 128), max(512, k // scale_down // 512 * 512), kind)
            for name, (n, k, kind) in SHAPES.items()}


def fill_carry(carry, bin_dir, graphs, script):
    """Compiles each graph (name -> MLIR text) for cuda and cuda-sim into
    `carry` and copies dsv3-run and libdsv3rt.so next to the modules."""
    os.makedirs(os.path.join(carry, "bin"), exist_ok=True)
    os.makedirs(os.path.join(carry, "lib"), exist_ok=True)
    for name, text in graphs.items():
        g = os.path.join(carry, f"{name}.mlir")
        with open(g, "w") as f:
            f.write(text)
        for target in ("cuda", "cuda-sim"):
            so = os.path.join(carry, f"{name}.{target}.so")
            subprocess.run([os.path.join(bin_dir, "dsv3-compile"), g, f"--target={target}", "-o", so],
                           check=True)
    shutil.copy(os.path.join(bin_dir, "dsv3-run"), os.path.join(carry, "bin"))
    shutil.copy(os.path.join(bin_dir, "..", "lib", "libdsv3rt.so"), os.path.join(carry, "lib"))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(carry) for f in fs)
    print(f"{carry}: {size / 2**20:.1f} MiB to carry; on the device:\n"
          f"  python3 bench/gpu/{script} run --carry {carry}")


def cuda_timed(torch, f, tries=5):
    """The least time of `tries` calls of f, in ms, by CUDA events."""
    best = float("inf")
    for _ in range(tries):
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        f()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end))
    return best


def prepare(a):
    fill_carry(a.carry, a.bin, {"gemv": graph(SHAPES), "gemv.small": graph(shapes_for(16))},
               "decode_gemv_gpu.py")


def save_safetensors(path, tensors):
    """A minimal safetensors writer (raw little-endian bytes)."""
    kinds = {np.dtype(np.uint8): "F8_E4M3", np.dtype(np.float32): "F32",
             np.dtype(np.uint16): "BF16", np.dtype(np.int64): "I64"}
    header, offset = {}, 0
    for name, arr in tensors.items():
        header[name] = {"dtype": kinds[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        for arr in tensors.values():
            f.write(np.ascontiguousarray(arr).tobytes())


def e4m3_values():
    """f64 value of every e4m3 code (the NaN codes 0x7F/0xFF as 0)."""
    v = np.zeros(256)
    for c in range(256):
        s, e, m = c >> 7, (c >> 3) & 15, c & 7
        if (c & 0x7F) == 0x7F:
            continue
        mag = (m / 8) * 2.0**-6 if e == 0 else (1 + m / 8) * 2.0**(e - 7)
        v[c] = -mag if s else mag
    return v


def random_bf16(rng, shape):
    """bf16 bit patterns of +-[2^-7, 1): random sign and mantissa, biased
    exponent 120..126."""
    bits = rng.integers(0, 1 << 16, size=shape, dtype=np.uint16)
    exp = (120 + (bits >> 7) % 7).astype(np.uint16)
    return (bits & 0x807F) | (exp << 7)


def random_weights(rng, shapes):
    """FP8 codes (no NaN codes), block scales in [2^-10, 2^-6), bf16 in
    +-[2^-7, 1); 8 routed rows, row r to expert 4 r (offsets)."""
    t = {}
    for name, (n, k, kind) in shapes.items():
        rows = E * n if kind == "experts" else n
        if kind == "bf16":
            t[name + ".weight"] = random_bf16(rng, (rows, k))
            continue
        codes = rng.integers(0, 256, size=(rows, k), dtype=np.uint8)
        codes[(codes & 0x7F) == 0x7F] = 0
        nb, kb = -(-n // 128), -(-k // 128)
        scale = np.exp2(rng.uniform(-10, -6, size=(E, nb, kb) if kind == "experts" else (nb, kb)))
        if kind == "experts":
            codes = codes.reshape(E, n, k)
        t[name + ".weight"] = codes
        t[name + ".weight_scale_inv"] = scale.astype(np.float32)
    return t


def offsets():
    off = np.zeros(E + 1, np.int64)
    for r in range(ROUTED):
        off[4 * r + 1:] += 1  # expert 4 r owns row r
    return off


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def run(a):
    shapes = SHAPES if a.device == "cuda" else shapes_for(a.scale_down)
    tag = "" if a.device == "cuda" else ".small"
    so = os.path.join(a.carry, f"gemv{tag}.{'cuda' if a.device == 'cuda' else 'cuda-sim'}.so")
    os.makedirs(a.work, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    wfile = os.path.join(a.work, f"gemv{tag}.safetensors")
    weights = random_weights(rng, shapes)
    save_safetensors(wfile, weights)
    k_max = max(k for _, k, _ in shapes.values())
    xbits = random_bf16(rng, (ROUTED, k_max))
    dsv3_run = os.path.join(a.carry, "bin", "dsv3-run")
    lut = e4m3_values()

    torch = None
    if a.device == "cuda":
        import torch
        torch.backends.cuda.matmul.allow_tf32 = False
        subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"])

    rows = []
    for name, (n, k, kind) in shapes.items():
        m = ROUTED if kind == "experts" else 1
        x = xbits[:m, :k]
        inputs = {"x": x}
        if kind == "experts":
            inputs["off"] = offsets()
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

        # The weight as f64 (dequantized) and the bytes a call reads.
        w = weights[name + ".weight"]
        if kind == "bf16":
            wbytes = w.nbytes
        else:
            wbytes = (ROUTED * n * k) if kind == "experts" else w.nbytes
        xf = bf16_to_f32(x).astype(np.float64)
        t16 = t32 = None
        if torch is None:  # host check: numpy float64 references
            if kind == "bf16":
                ref = xf @ bf16_to_f32(w).astype(np.float64).T
            elif kind == "fp8":
                s = np.repeat(np.repeat(weights[name + ".weight_scale_inv"], 128, 0), 128, 1)[:n, :k]
                ref = xf @ (lut[w] * s).T
            else:
                s = weights[name + ".weight_scale_inv"]
                ref = np.stack([xf[r] @ (lut[w[4 * r]] *
                                         np.repeat(np.repeat(s[4 * r], 128, 0), 128, 1)[:n, :k]).T
                                for r in range(ROUTED)])
        else:
            dev = torch.device("cuda")
            xt = torch.from_numpy(xf.astype(np.float32)).to(dev)
            if kind == "bf16":
                wt = torch.from_numpy(w.view(np.int16)).to(dev).view(torch.bfloat16).float()
                ws = [wt]
            else:
                lt = torch.from_numpy(lut.astype(np.float32)).to(dev)
                codes = torch.from_numpy(w).to(dev).long()
                sc = torch.from_numpy(weights[name + ".weight_scale_inv"]).to(dev)
                if kind == "fp8":
                    ws = [lt[codes] * sc.repeat_interleave(128, 0).repeat_interleave(128, 1)[:n, :k]]
                else:
                    ws = [lt[codes[4 * r]] * sc[4 * r].repeat_interleave(128, 0)
                          .repeat_interleave(128, 1)[:n, :k] for r in range(ROUTED)]
            ref = torch.cat([xt[i:i + 1] @ ws[i if len(ws) > 1 else 0].T for i in range(m)]) \
                .double().cpu().numpy()

            def timed(f):
                return cuda_timed(torch, f)
            w16 = [wi.to(torch.bfloat16) for wi in ws]
            x16 = xt.to(torch.bfloat16)
            t16 = timed(lambda: [x16[i:i + 1] @ w16[i if len(w16) > 1 else 0].T for i in range(m)])
            t32 = timed(lambda: [xt[i:i + 1] @ ws[i if len(ws) > 1 else 0].T for i in range(m)])
            del ws, w16
        err = None if y is None else float(np.abs(y - ref).max() / np.abs(ref).max())
        rows.append((name, f"{m}x{n}x{k}", ms, wbytes, t16, t32, err))

    print(f"\n{'function':20s} {'M x N x K':>18s} {'dsv3 ms':>8s} {'GB/s':>7s} {'of peak':>7s} "
          f"{'torch bf16 ms':>13s} {'torch f32 ms':>12s} {'max err':>9s}")
    for name, shape, ms, wbytes, t16, t32, err in rows:
        gbs = wbytes / (ms / 1e3) / 1e9 if ms else None
        print(f"{name:20s} {shape:>18s} " + (f"{ms:8.3f} {gbs:7.0f} {gbs / 1e3 / PEAK_TBS:7.2f} "
                                           if ms else f"{'failed':>8s} {'-':>7s} {'-':>7s} ")
              + (f"{t16:13.3f} {t32:12.3f} " if t16 is not None else f"{'-':>13s} {'-':>12s} ")
              + (f"{err:9.1e}" if err is not None else f"{'-':>9s}"))
    print("GB/s: weight bytes the call reads (FP8 codes; bf16 lm_head; experts: 8 routed rows' "
          "experts) / min of dsv3-run --benchmark calls. max err: max |dsv3 - ref| / max |ref|, ref = "
          + ("PyTorch f32 (TF32 off) on the dequantized weights." if torch else "numpy float64."))
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
    pr.add_argument("--work", default="/tmp/gemv-gpu")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--calls", type=int, default=50)
    pr.add_argument("--scale-down", type=int, default=16, help="host check: shapes / this")
    pr.add_argument("--timeout", type=int, default=120)
    a = p.parse_args()
    prepare(a) if a.cmd == "prepare" else run(a)


if __name__ == "__main__":
    main()
