"""Helpers for dsv3's end-to-end tests: safetensors I/O written from the
format description (independent of libdsv3rt's reader, so each checks the
other), FP8 references built on ml_dtypes, and error metrics in float64."""
import json
import os
import struct
import subprocess
import sys

import ml_dtypes
import numpy as np

DTYPES = {
    "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn),
    "F8_E8M0": np.dtype(ml_dtypes.float8_e8m0fnu),
    "I32": np.dtype(np.int32),
    "I64": np.dtype(np.int64),
}
NAMES = {v: k for k, v in DTYPES.items()}


def save_safetensors(path, tensors):
    """Writes {name: np.ndarray} as a safetensors file."""
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        data = arr.tobytes()
        header[name] = {
            "dtype": NAMES[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[b:e], DTYPES[info["dtype"]]).reshape(
            info["shape"]
        )
    return out


def quantize_ref(x, block, ue8m0=False):
    """docs/semantics.md §5.2-5.4 block quantization, from f32 values of x (any float
    dtype): returns (q as float8_e4m3fn, scale f32, amax f32)."""
    x = np.asarray(x).astype(np.float32)
    shape = x.shape
    nb = [-(-d // b) for d, b in zip(shape, block)]
    padded = np.zeros([n * b for n, b in zip(nb, block)], np.float32)
    padded[tuple(slice(0, d) for d in shape)] = x
    view = padded.reshape(sum(([n, b] for n, b in zip(nb, block)), []))
    red = tuple(range(1, 2 * len(shape), 2))
    with np.errstate(invalid="ignore"):
        amax = np.nanmax(np.abs(view), axis=red).astype(np.float32)
    amax = np.where(np.isnan(amax), np.float32(0), amax)  # NaNs are ignored
    scale = (np.maximum(amax, np.float32(1e-4)) / np.float32(448)).astype(np.float32)
    if ue8m0:
        bits = scale.view(np.uint32)
        exp = (bits >> 23) & 0xFF
        bump = ((bits & 0x7FFFFF) != 0) & (exp != 0xFF)
        scale = np.where(exp != 0xFF, ((exp + bump) << 23).astype(np.uint32), bits).view(np.float32)
    s_full = scale
    for ax, b in enumerate(block):
        s_full = np.repeat(s_full, b, axis=ax)
    s_full = s_full[tuple(slice(0, d) for d in shape)]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        y = (x / s_full).astype(np.float32)
        y = np.where(np.isnan(y), y, np.clip(y, -448, 448)).astype(np.float32)
    q = y.astype(ml_dtypes.float8_e4m3fn)
    return q, scale, amax


def rel_error(got, ref):
    """Norm-wise relative error ||got - ref|| / ||ref|| in float64."""
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))


def tool(name):
    """Path of a dsv3 tool: $DSV3_BIN (set by lit) or PATH."""
    d = os.environ.get("DSV3_BIN")
    return os.path.join(d, name) if d else name


def run(cmd, expect_fail=False):
    """Runs a command (dsv3-* tools resolved with tool()), echoing it; exits
    on an unexpected status. Returns (stdout, stderr) when expect_fail."""
    if cmd[0].startswith("dsv3-"):
        cmd = [tool(cmd[0])] + list(cmd[1:])
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    if expect_fail:
        if r.returncode == 0:
            sys.exit("command succeeded but was expected to fail")
        return r.stdout, r.stderr
    if r.returncode != 0:
        sys.exit(f"command failed with exit code {r.returncode}")
    return r.stdout


def check(cond, msg):
    if not cond:
        sys.exit("FAILED: " + msg)
    print("ok:", msg)


def attention_ref(q, qp, c, k, start, kv_len, scale):
    """dsv3.latent_attention in float64 (docs/semantics.md §10.4-10.5): a
    query with no visible key gives 0, and hidden rows (even NaN) are never
    read."""
    q, qp, c, k = (np.asarray(a, np.float64) for a in (q, qp, c, k))
    s = np.einsum("bihc,btc->biht", q, c) + np.einsum("bihr,btr->biht", qp, k)
    s *= scale
    t = np.arange(c.shape[1])
    i = np.arange(q.shape[1])
    vis = (t[None, None, :] <= (start[:, None, None] + i[None, :, None])) & (
        t[None, None, :] < kv_len[:, None, None])
    s = np.where(vis[:, :, None, :], s, -np.inf)
    mx = s.max(-1, keepdims=True)
    mx = np.where(np.isinf(mx), 0, mx)
    e = np.exp(s - mx)
    tot = e.sum(-1, keepdims=True)
    p = np.divide(e, tot, out=np.zeros_like(e), where=tot > 0)
    cz = np.where(vis.any(1)[:, :, None], c, 0)  # hidden rows never read
    return np.einsum("biht,btc->bihc", p, cz)
