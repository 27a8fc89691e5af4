"""The DeepSeek-V3 MoE layer (examples/moe_layer) on a lent H200: the cuda
module at T = 64 and T = 4096 tokens through dsv3-run --device=cuda, against
PyTorch computing the same layer on the same GPU in the same run, and (T = 64)
against the host module's output computed ahead of time.
NOTE: written on a machine without a GPU; not yet run on one.

Two steps.

1. Here (LLVM and the demo's outputs available):

     python3 examples/moe_layer/demo.py --out DEMO --tokens 64      # host y_T64.host.npy
     python3 bench/gpu/moe_layer_gpu.py prepare --demo DEMO --carry build-moe-gpu

   compiles DEMO/moe_T64.cuda.so and DEMO/moe_T4096.cuda.so (if missing) and
   copies into build-moe-gpu/ (a git-ignored path in the repository root; a
   few MB): bin/dsv3-run, lib/libdsv3rt.so (dsv3-run's RUNPATH is
   $ORIGIN/../lib), the two cuda modules, y_T64.host.npy and
   weights.stamp.json. The 11.3 GB weights file is NOT carried (over the
   64 MiB carry limit): the device regenerates it with
   examples/moe_layer/gen_weights.py (numpy only, same seed, checked against
   the stamp's fingerprint).

2. On the device (carry build-moe-gpu). To stay within the 10-minute limit of
   one device command, write the weights first (~1-2 min, 11.3 GB, kept while
   the machine stays warm), then run (each T: a dsv3-run process that uploads
   the 11.3 GB of parameters and times the module, PyTorch on the same layer):

     python3 examples/moe_layer/gen_weights.py --out /tmp/moe-gpu \
         --expect build-moe-gpu/weights.stamp.json
     python3 bench/gpu/moe_layer_gpu.py run --carry build-moe-gpu [--work /tmp/moe-gpu] [--tokens 64,4096]

Grouped-GEMM TFLOP/s = 2 * (T*8 routed rows) * (3 * 2048 * 7168) / time of a
whole layer call (router, dispatch, shared expert and combine included, so it
understates the grouped GEMM alone).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(root, "examples", "moe_layer"))
import gen_weights as gw  # noqa: E402

TOKENS = (64, 4096)
FLOP_PER_ROW = 2 * 3 * gw.I * gw.H  # gate, up, down of one routed (token, expert) pair


def prepare(a):
    with open(os.path.join(root, "examples", "moe_layer", "graph.mlir.in")) as f:
        graph = f.read()
    os.makedirs(os.path.join(a.carry, "bin"), exist_ok=True)
    os.makedirs(os.path.join(a.carry, "lib"), exist_ok=True)
    for t in TOKENS:
        so = os.path.join(a.demo, f"moe_T{t}.cuda.so")
        if not os.path.exists(so):
            g = os.path.join(a.demo, f"moe_T{t}.mlir")
            with open(g, "w") as f:
                f.write(graph.replace("@T@", str(t)))
            t0 = time.perf_counter()
            subprocess.run([os.path.join(a.bin, "dsv3-compile"), g, "--target=cuda",
                            "--cuda-chip=sm_90a", "-o", so], check=True)
            print(f"compiled {so} in {time.perf_counter() - t0:.1f} s")
        shutil.copy(so, a.carry)
    for name in ("y_T64.host.npy", "weights.stamp.json"):
        src = os.path.join(a.demo, name)
        if not os.path.exists(src):
            sys.exit(f"missing {src}: run examples/moe_layer/demo.py --out {a.demo} --tokens 64")
        shutil.copy(src, a.carry)
    shutil.copy(os.path.join(a.bin, "dsv3-run"), os.path.join(a.carry, "bin"))
    shutil.copy(os.path.join(a.bin, "..", "lib", "libdsv3rt.so"), os.path.join(a.carry, "lib"))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.carry) for f in fs)
    print(f"{a.carry}: {size / 2**20:.1f} MiB to carry; on the device:\n"
          f"  python3 bench/gpu/moe_layer_gpu.py run --carry {a.carry}")


def rel(x, r):
    x, r = np.asarray(x, np.float64), np.asarray(r, np.float64)
    return float(np.linalg.norm(x - r) / np.linalg.norm(r))


def run(a):
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                    "--format=csv,noheader"])
    dsv3_run = os.path.join(a.carry, "bin", "dsv3-run")

    # Weights: regenerate the identical file (same seed) and check its fingerprint.
    t0 = time.perf_counter()
    wfile = gw.generate(a.work, a.seed)
    with open(os.path.join(a.carry, "weights.stamp.json")) as f:
        want = json.load(f)["fingerprint"]
    got = gw.fingerprint(wfile, a.seed)
    print(f"weights {wfile}: {time.perf_counter() - t0:.0f} s, fingerprint "
          f"{'matches the host' if got == want else 'DIFFERS from the host: results not comparable'}")
    W = gw.Weights(wfile)
    P = gw.PREFIX + "."

    def gpu(arr, dtype=None):
        t = torch.from_numpy(np.array(arr)).to(dev)  # a writable copy of the mapped bytes
        return t if dtype is None else t.view(dtype)

    gate_w = gpu(W.raw_tensor(P + "gate.weight").view(np.int16), torch.bfloat16)
    bias = gpu(W.raw_tensor(P + "gate.e_score_correction_bias"))
    codes, scales = {}, {}  # FP8 codes / scales on the GPU, loaded on first use

    def load(name):
        if name not in codes:
            codes[name] = gpu(W.raw_tensor(name + ".weight")).view(torch.float8_e4m3fn)
            scales[name] = gpu(W.raw_tensor(name + ".weight_scale_inv"))
        return codes[name], scales[name]

    def deq(name, dtype):  # docs/semantics.md §5.5: code * block scale, in f32, then dtype
        q, s = load(name)
        s = s.repeat_interleave(128, 0).repeat_interleave(128, 1)
        return (q.float() * s).to(dtype)

    def ffn(name, xs, dtype):
        g = xs @ deq(name + ".gate_proj", dtype).T
        u = xs @ deq(name + ".up_proj", dtype).T
        return (torch.nn.functional.silu(g.float()) * u.float()).to(dtype) @ deq(name + ".down_proj", dtype).T

    def route(x):  # docs/semantics.md §12.1 in f32 (torch.topk: ties unspecified)
        s = torch.sigmoid(x.float() @ gate_w.float().T)
        sel = s + bias
        grp = sel.view(-1, gw.N_GROUP, gw.E // gw.N_GROUP).topk(2, -1).values.sum(-1)
        keep = torch.zeros_like(grp, dtype=torch.bool)
        keep.scatter_(1, grp.topk(gw.TOPK_GROUP, -1).indices, True)
        keep = keep.repeat_interleave(gw.E // gw.N_GROUP, 1)
        ids = sel.masked_fill(~keep, float("-inf")).topk(gw.K, -1).indices
        w = s.gather(1, ids)
        return ids, w / w.sum(-1, keepdim=True) * gw.SCALE

    def layer(x, ids, w, dtype):
        xs = x.to(dtype)
        y = ffn(P + "shared_experts", xs, dtype).float()
        for e in torch.unique(ids).tolist():
            tok, slot = torch.nonzero(ids == e, as_tuple=True)
            y[tok] += w[tok, slot].unsqueeze(1) * ffn(P + f"experts.{e}", xs[tok], dtype).float()
        return y

    def timed(f, n=3):
        best, out = float("inf"), None
        for _ in range(n):
            torch.cuda.synchronize()
            t = time.perf_counter()
            out = f()
            torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t)
        return best, out

    rows = []
    for T in map(int, a.tokens.split(",")):
        xfile = gw.write_hidden(a.work, a.seed, T)
        x = gpu(gw.hidden(a.seed, T).view(np.int16), torch.bfloat16)
        flop = FLOP_PER_ROW * T * gw.K

        # dsv3's cuda module (a separate process: dsv3-run uploads the parameters, runs
        # once, then times n more calls).
        so = os.path.join(a.carry, f"moe_T{T}.cuda.so")
        ycuda = os.path.join(a.work, f"y_T{T}.cuda.npy")
        ids_cuda = os.path.join(a.work, f"ids_T{T}.cuda.npy")
        common = [dsv3_run, so, "--device=cuda", f"--parameters={wfile}", f"--input=@{xfile}:hidden"]
        n = 10 if T <= 64 else 2
        ms, y_cuda, cuda_ids = None, None, None
        t0 = time.perf_counter()
        try:
            r = subprocess.run(common + ["--function=moe", f"--output=@{ycuda}", f"--benchmark={n}"],
                               capture_output=True, text=True, timeout=a.timeout)
            print(r.stdout + r.stderr, end="")
            if r.returncode == 0:
                ms = float(re.search(r"min ([0-9.]+) ms", r.stdout).group(1))
                y_cuda = np.load(ycuda)
            else:
                print(f"T={T}: dsv3-run --device=cuda failed ({r.returncode})")
            r = subprocess.run(common + ["--function=route", "--output=-", f"--output=@{ids_cuda}"],
                               capture_output=True, text=True, timeout=a.timeout)
            if r.returncode == 0:
                cuda_ids = np.load(ids_cuda)
            else:
                print(f"T={T}: route entry failed ({r.returncode}): {r.stderr[-500:]}")
        except subprocess.TimeoutExpired:
            print(f"T={T}: dsv3-run --device=cuda did not finish in {a.timeout} s")
        wall = time.perf_counter() - t0

        # PyTorch, same layer, same GPU: activated experts' codes uploaded first (untimed).
        ids, w = route(x)
        experts = torch.unique(ids).tolist()
        for e in experts:
            for p in gw.PROJ:
                load(P + f"experts.{e}.{p}")
        t32, y32 = timed(lambda: layer(x, ids, w, torch.float32))
        t16, y16 = timed(lambda: layer(x, ids, w, torch.bfloat16))
        y32, y16 = y32.double().cpu().numpy(), y16.double().cpu().numpy()

        txt = [f"T={T}: {len(experts)} experts activated (torch router)",
               f"torch bf16 vs torch f32 {rel(y16, y32):.2e}"]
        if cuda_ids is not None:
            same = (cuda_ids == ids.cpu().numpy()).all(-1)
            txt.append(f"{int(same.sum())}/{T} tokens routed identically by the cuda route entry and torch")
        if y_cuda is not None:
            txt.append(f"cuda vs torch f32 {rel(y_cuda, y32):.2e}")
        if T == 64:
            y_host = np.load(os.path.join(a.carry, "y_T64.host.npy"))
            txt.append(f"torch f32 vs host {rel(y32, y_host):.2e}")
            if y_cuda is not None:
                e = rel(y_cuda, y_host)
                txt.append(f"cuda vs host {e:.2e} ({'ok' if e < 1e-5 else 'MISMATCH'}: the demo's "
                           f"tolerance vs float64 is 1e-5)")
        txt.append(f"dsv3-run processes {wall:.0f} s (incl. parameter upload)")
        print("\n  ".join(txt), flush=True)
        rows.append((T, ms, ms and flop / (ms / 1e3) / 1e12, t32 * 1e3, flop / t32 / 1e12,
                     t16 * 1e3, flop / t16 / 1e12))

    print(f"\n{'T':>5s} {'dsv3 cuda ms':>12s} {'TFLOP/s':>8s} {'torch f32 ms':>12s} {'TFLOP/s':>8s} "
          f"{'torch bf16 ms':>13s} {'TFLOP/s':>8s}")
    for T, ms, tf, m32, tf32, m16, tf16 in rows:
        dsv3 = f"{ms:12.2f} {tf:8.2f}" if ms else f"{'failed':>12s} {'-':>8s}"
        print(f"{T:5d} {dsv3} {m32:12.2f} {tf32:8.2f} {m16:13.2f} {tf16:8.2f}")
    print("TFLOP/s = 2 * T*8 rows * 3*2048*7168 / time of the whole layer. dsv3: min of "
          "dsv3-run --benchmark calls. torch: best of 3 (activated experts' FP8 codes already on the "
          "GPU; dequantize them per call + f32 (TF32 off) or bf16 matmuls, torch's own routing).")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="here: compile the cuda modules, fill the carry folder")
    pp.add_argument("--demo", required=True, help="examples/moe_layer/demo.py --out directory")
    pp.add_argument("--carry", required=True, help="folder to carry to the device")
    pp.add_argument("--bin", default=os.environ.get("DSV3_BIN", os.path.join(root, "build", "bin")))
    pr = sub.add_parser("run", help="on the device")
    pr.add_argument("--carry", required=True)
    pr.add_argument("--work", default="/tmp/moe-gpu", help="where to write the 11.3 GB weights")
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--timeout", type=int, default=300, help="per dsv3-run call, seconds")
    pr.add_argument("--tokens", default="64,4096", help="subset of 64,4096 (the carried modules)")
    a = p.parse_args()
    prepare(a) if a.cmd == "prepare" else run(a)


if __name__ == "__main__":
    main()
