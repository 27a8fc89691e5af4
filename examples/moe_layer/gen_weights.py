"""Seeded random weights of one DeepSeek-V3 MoE layer (model.layers.3.mlp) in
the checkpoint's names, dtypes and shapes (docs/semantics.md §3.1), written as one
safetensors file in the layout the runtime binds without copying: the 256
experts of each projection back to back in expert order (see docs/runtime-abi.md,
"Stacked parameters"), each weight stack page-aligned in the file.

Only numpy is needed (no ml_dtypes), so a lent GPU machine can regenerate the
identical file instead of receiving 11.3 GB:

  python3 examples/moe_layer/gen_weights.py --out DIR [--seed 0] [--tokens 4,64]

writes DIR/weights.safetensors (+ DIR/weights.stamp.json; reused when the
stamp matches) and DIR/hidden_T<T>.safetensors per token count.

Values (FP8 codes are generated directly; quantizing 11 GB in numpy is too slow):
  * expert/shared projections: e4m3 codes of a 256-level discretised gaussian
    (the byte b maps to the code nearest 448 * Phi^-1((b + .5) / 256) / Phi^-1(255.5 / 256),
    so every 128x128 block spans [-448, 448] like a quantized one; never the
    NaN codes 0x7F/0xFF), and f32 block scales 0.02 * Phi^-1(255.5/256) / 448 *
    exp(U(-0.5, 0.5)): dequantized weights ~ N(0, 0.02) with per-block spread.
  * router gate.weight bf16 ~ N(0, 0.02) (logits of a unit-variance token have
    std ~1.7, so tokens route to different experts); e_score_correction_bias
    f32 ~ N(0, 0.1) (large enough to change the selection).
  * hidden states bf16 ~ N(0, 1).
"""
import argparse
import hashlib
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

PREFIX = "model.layers.3.mlp"
H, I, E, K = 7168, 2048, 256, 8  # hidden, moe_intermediate_size, experts, top-k
N_GROUP, TOPK_GROUP, SCALE = 8, 4, 2.5
PROJ = {"gate_proj": (I, H), "up_proj": (I, H), "down_proj": (H, I)}  # [N, K]
VERSION = 1  # bump when the generated values or layout change
PAGE = 4096


def nblocks(n):
    return -(-n // 128)


# --- dtypes by hand (numpy only) ---------------------------------------------

def e4m3_values():
    """float64 value of each of the 256 e4m3fn codes (NaN for 0x7F/0xFF)."""
    v = np.empty(256)
    for c in range(256):
        s, e, m = c >> 7, (c >> 3) & 15, c & 7
        if e == 15 and m == 7:
            v[c] = np.nan
        else:
            v[c] = (-1) ** s * (m * 2.0**-9 if e == 0 else (1 + m / 8) * 2.0 ** (e - 7))
    return v


E4M3 = e4m3_values()
QMAX = statistics.NormalDist().inv_cdf(255.5 / 256)


def gauss_code_lut():
    """byte -> e4m3 code nearest 448 * Phi^-1((b+.5)/256) / QMAX (symmetric)."""
    finite = np.where(np.isnan(E4M3), np.inf, E4M3)
    lut = np.empty(256, np.uint8)
    for b in range(256):
        target = 448 * statistics.NormalDist().inv_cdf((b + 0.5) / 256) / QMAX
        lut[b] = int(np.argmin(np.abs(finite - target)))
    return lut


LUT = gauss_code_lut()
assert not np.isin(LUT, [0x7F, 0xFF]).any()
LUT_BYTES = LUT.tobytes()


def to_bf16_bits(x):
    """float -> bf16 bit patterns (uint16), round to nearest even."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


def bf16_to_f64(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


# --- layout --------------------------------------------------------------------

def layout():
    """[(name, safetensors dtype, shape, nbytes)] in file order."""
    t = []
    for p, (n, k) in PROJ.items():  # the 3 big stacks first: page-aligned
        t += [(f"{PREFIX}.experts.{e}.{p}.weight", "F8_E4M3", [n, k], n * k) for e in range(E)]
    for p, (n, k) in PROJ.items():
        sh = [nblocks(n), nblocks(k)]
        t += [(f"{PREFIX}.experts.{e}.{p}.weight_scale_inv", "F32", sh, 4 * sh[0] * sh[1])
              for e in range(E)]
    for p, (n, k) in PROJ.items():
        t.append((f"{PREFIX}.shared_experts.{p}.weight", "F8_E4M3", [n, k], n * k))
    for p, (n, k) in PROJ.items():
        sh = [nblocks(n), nblocks(k)]
        t.append((f"{PREFIX}.shared_experts.{p}.weight_scale_inv", "F32", sh, 4 * sh[0] * sh[1]))
    t.append((f"{PREFIX}.gate.weight", "BF16", [E, H], 2 * E * H))
    t.append((f"{PREFIX}.gate.e_score_correction_bias", "F32", [E], 4 * E))
    return t


def header_bytes(seed):
    hdr, off = {"__metadata__": {"format": "pt", "generator": "dsv3 examples/moe_layer",
                                 "version": str(VERSION), "seed": str(seed)}}, 0
    for name, dt, shape, nb in layout():
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + nb]}
        off += nb
    text = json.dumps(hdr, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % PAGE)  # data section starts on a page
    return struct.pack("<Q", len(text)) + text, off


# --- values --------------------------------------------------------------------

TAGS = {"weight": 1, "scale": 2, "router": 3, "bias": 4, "hidden": 5}


def rng_for(seed, what, *ids):
    return np.random.default_rng([seed, TAGS[what], *ids])


def proj_code_bytes(seed, pid, expert, n, k):
    """The n*k e4m3 codes of a projection as bytes; expert -1 is the shared
    expert. Raw PCG64 output (little-endian) mapped through LUT."""
    raw = rng_for(seed, "weight", pid, expert + 1).bit_generator.random_raw(-(-n * k // 8))
    return raw.view(np.uint8)[: n * k].tobytes().translate(LUT_BYTES)


def proj_scales(seed, pid, expert, n, k):
    g = rng_for(seed, "scale", pid, expert + 1)
    base = 0.02 * QMAX / 448
    return (base * np.exp(g.uniform(-0.5, 0.5, (nblocks(n), nblocks(k))))).astype(np.float32)


def router(seed):
    w = to_bf16_bits(rng_for(seed, "router").standard_normal((E, H)) * 0.02)
    b = (rng_for(seed, "bias").standard_normal(E) * 0.1).astype(np.float32)
    return w, b


def hidden(seed, t):
    return to_bf16_bits(rng_for(seed, "hidden", t).standard_normal((t, H)))


def tensor_bytes(seed, name):
    """The bytes of one tensor of layout(), generated from the seed."""
    rest = name[len(PREFIX) + 1:]
    pids = list(PROJ)
    if rest == "gate.weight":
        return router(seed)[0].tobytes()
    if rest == "gate.e_score_correction_bias":
        return router(seed)[1].tobytes()
    parts = rest.split(".")
    expert = int(parts[1]) if parts[0] == "experts" else -1
    p = parts[-2]
    n, k = PROJ[p]
    if parts[-1] == "weight":
        return proj_code_bytes(seed, pids.index(p), expert, n, k)
    return proj_scales(seed, pids.index(p), expert, n, k).tobytes()


# --- file ----------------------------------------------------------------------

def tensor_ranges(seed=0):
    """{name: (begin, end)}: absolute byte ranges of every tensor in the file."""
    hdr, _ = header_bytes(seed)
    off, r = len(hdr), {}
    for name, dt, shape, nb in layout():
        r[name] = (off, off + nb)
        off += nb
    return r


def fingerprint(path, seed):
    """sha256 over the header, every small tensor and the first and last 4 KiB
    of every projection weight: cheap, and a change of the random streams or
    of the layout shows up in it."""
    hdr, _ = header_bytes(seed)
    h = hashlib.sha256(hdr)
    with open(path, "rb") as f:
        if f.read(len(hdr)) != hdr:
            return None
        for name, (b, e) in tensor_ranges(seed).items():
            for lo, hi in ([(b, e)] if e - b <= 2 * PAGE else [(b, b + PAGE), (e - PAGE, e)]):
                f.seek(lo)
                h.update(f.read(hi - lo))
    return h.hexdigest()


def stamp_for(seed, path):
    _, size = header_bytes(seed)
    return {"version": VERSION, "seed": seed, "prefix": PREFIX, "hidden": H,
            "moe_intermediate_size": I, "n_routed_experts": E,
            "file_bytes": len(header_bytes(seed)[0]) + size}


def generate(out, seed=0, quiet=False):
    """Writes out/weights.safetensors once; returns its path."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "weights.safetensors")
    spath = os.path.join(out, "weights.stamp.json")
    want = stamp_for(seed, path)
    if os.path.exists(path) and os.path.exists(spath):
        with open(spath) as f:
            have = json.load(f)
        if {k: have.get(k) for k in want} == want and os.path.getsize(path) == want["file_bytes"]:
            if not quiet:
                print(f"weights: reusing {path} ({want['file_bytes'] / 1e9:.2f} GB, stamp matches)")
            return path
    hdr, size = header_bytes(seed)
    tmp = path + ".tmp"
    t0 = time.perf_counter()
    print(f"weights: writing {(len(hdr) + size) / 1e9:.2f} GB to {path} (once) ...", flush=True)
    with open(tmp, "wb") as f:
        f.write(hdr)
        for i, (name, dt, shape, nb) in enumerate(layout()):
            data = tensor_bytes(seed, name)
            assert len(data) == nb, name
            f.write(data)
            if not quiet and i % 128 == 127:
                print(f"  {i + 1}/{len(layout())} tensors, {f.tell() / 1e9:.1f} GB, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)
    os.replace(tmp, path)
    want["fingerprint"] = fingerprint(path, seed)
    with open(spath, "w") as f:
        json.dump(want, f, indent=1)
    print(f"weights: written in {time.perf_counter() - t0:.0f} s, fingerprint "
          f"{want['fingerprint'][:16]}", flush=True)
    return path


def write_hidden(out, seed, t):
    """out/hidden_T<t>.safetensors with tensor "hidden" bf16 [t, 7168]."""
    path = os.path.join(out, f"hidden_T{t}.safetensors")
    data = hidden(seed, t).tobytes()
    text = json.dumps({"hidden": {"dtype": "BF16", "shape": [t, H],
                                  "data_offsets": [0, len(data)]}}).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
    return path


# --- reading (for references) ----------------------------------------------------

class Weights:
    """Read-only views into weights.safetensors by checkpoint name."""

    def __init__(self, path):
        self.path = path
        self.raw = np.memmap(path, np.uint8, mode="r")
        (n,) = struct.unpack("<Q", bytes(self.raw[:8]))
        self.header = json.loads(bytes(self.raw[8:8 + n]))
        self.base = 8 + n

    def range(self, name):
        b, e = self.header[name]["data_offsets"]
        return self.base + b, self.base + e

    def raw_tensor(self, name):
        """uint8 codes / uint16 bf16 bits / float32, shaped."""
        info = self.header[name]
        b, e = self.range(name)
        dt = {"F8_E4M3": np.uint8, "BF16": np.uint16, "F32": np.float32}[info["dtype"]]
        return self.raw[b:e].view(dt).reshape(info["shape"])

    def dequant(self, name):
        """float64 [N, K] of an FP8 projection: code value * its block scale."""
        q = E4M3[np.asarray(self.raw_tensor(name + ".weight"))]
        s = np.asarray(self.raw_tensor(name + ".weight_scale_inv"), np.float64)
        n, k = q.shape
        return (q.reshape(n // 128, 128, k // 128, 128) * s[:, None, :, None]).reshape(n, k)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", default="", help="comma-separated T: also write hidden_T<T>")
    p.add_argument("--expect", metavar="STAMP", help="exit 1 unless the file's fingerprint is the "
                   "one in this weights.stamp.json (e.g. the one the demo wrote elsewhere)")
    a = p.parse_args()
    path = generate(a.out, a.seed)
    for t in filter(None, a.tokens.split(",")):
        print("wrote", write_hidden(a.out, a.seed, int(t)))
    if a.expect:
        with open(a.expect) as f:
            want = json.load(f).get("fingerprint")
        got = fingerprint(path, a.seed)
        print(f"fingerprint {got[:16]} {'matches' if got == want else 'DIFFERS from ' + str(want)[:16]}")
        sys.exit(0 if got == want else 1)


if __name__ == "__main__":
    main()
