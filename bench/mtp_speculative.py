"""Speculative decoding with the MTP module at DeepSeek-V3's layer sizes, on
the host: plain and --speculative=mtp decoding in the same dsv3-generate run.

  .venv/bin/python bench/mtp_speculative.py --dir /work/v3s --out /tmp/mtp-bench \
      [--bin build/bin] [--tokens 16] [--prompt 64] [--json out.json]

--dir is a checkpoint of bench/make_v3_checkpoint.py (seeded random weights,
stock layout, no MTP layer). Two variants are made in --out, each a
directory of --dir's shards (symlinked; rewritten without the tensors a
variant replaces) plus one extra shard (model-mtp.safetensors) and an index
that names it:

  random  an MTP layer L = num_hidden_layers as DeepSeek-V3 ships one: the
          decoder layer copied from layer L-1 (MoE), random enorm, hnorm
          (bf16 ~1) and eh_proj (FP8, scaled like every other projection),
          embed_tokens / shared_head.norm / shared_head.head copies of the
          main model's. Random weights draft almost nothing right: the
          acceptance is ~1/vocab, the cost of the mechanism without its
          benefit.
  agree   the upper bound of the mechanism: every main and MTP layer adds
          nothing to the residual stream (each o_proj and down_proj, routed
          and shared experts' included, replaced by zeros in the extra
          shard), so the next token depends on the current one only, and the
          MTP module computes that same function (eh_proj = [I | 0], enorm
          = 1): every draft is accepted. The compute per call is the same as
          a real model's; only the weights' values differ.

Each variant: dsv3-import (dynamic token count, bf16 activations, MTP on),
dsv3-compile, then dsv3-generate --speculative=mtp on a --prompt-token
prompt for --tokens new tokens (greedy). Its stderr gives both decode speeds,
the speed-up, the acceptance and the mean verify / MTP call times against
the median plain decode step.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import time

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"F8_E4M3": np.dtype(ml_dtypes.float8_e4m3fn), "BF16": np.dtype(ml_dtypes.bfloat16),
          "F32": np.dtype(np.float32)}
NAMES = {v: k for k, v in DTYPES.items()}


class Checkpoint:
    """The tensors of a sharded checkpoint, memory-mapped."""

    def __init__(self, d):
        self.dir = d
        self.index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
        self.headers = {}

    def _header(self, f):
        if f not in self.headers:
            with open(os.path.join(self.dir, f), "rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                self.headers[f] = (json.loads(fh.read(n)), 8 + n)
        return self.headers[f]

    def names(self):
        return self.index["weight_map"].keys()

    def get(self, name):
        f = self.index["weight_map"][name]
        header, base = self._header(f)
        info = header[name]
        b, e = info["data_offsets"]
        return np.memmap(os.path.join(self.dir, f), DTYPES[info["dtype"]], "r",
                         base + b, tuple(info["shape"]))


def write_shard(path, tensors):
    """Streams {name: array} into one safetensors file."""
    header, offset = {}, 0
    for name, a in tensors.items():
        header[name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in tensors.values():
            f.write(np.ascontiguousarray(a).tobytes())


def make_variant(src, out, kind, seed=0):
    ck = Checkpoint(src)
    cfg = json.load(open(os.path.join(src, "config.json")))
    n, h = cfg["num_hidden_layers"], cfg["hidden_size"]
    d = os.path.join(out, kind)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    bf16, fp8 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn
    extra = {}
    mtp = f"model.layers.{n}."
    for name in ck.names():
        prefix = f"model.layers.{n - 1}."
        if name.startswith(prefix):
            extra[mtp + name[len(prefix):]] = ck.get(name)
    kb = -(-2 * h // 128)
    if kind == "random":
        extra[mtp + "enorm.weight"] = (1 + 0.1 * rng.standard_normal(h)).astype(bf16)
        extra[mtp + "hnorm.weight"] = (1 + 0.1 * rng.standard_normal(h)).astype(bf16)
        raw = np.clip(rng.standard_normal((h, 2 * h), np.float32) * 100, -448, 448)
        extra[mtp + "eh_proj.weight"] = raw.astype(fp8)
        # dequantized std ~ 1/sqrt(K), as make_v3_checkpoint's projections
        extra[mtp + "eh_proj.weight_scale_inv"] = np.full(
            (-(-h // 128), kb), 1 / (100 * np.sqrt(2 * h)), np.float32)
    else:
        eye = np.zeros((h, 2 * h), fp8)
        eye[np.arange(h), np.arange(h)] = 1
        extra[mtp + "eh_proj.weight"] = eye
        extra[mtp + "eh_proj.weight_scale_inv"] = np.ones((-(-h // 128), kb), np.float32)
        extra[mtp + "enorm.weight"] = np.ones(h, bf16)
        extra[mtp + "hnorm.weight"] = np.ones(h, bf16)
        for name in list(ck.names()) + list(extra):
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                extra[name] = np.zeros(ck.get(name).shape if name in ck.index["weight_map"]
                                       else extra[name].shape, fp8)
    extra[mtp + "embed_tokens.weight"] = ck.get("model.embed_tokens.weight")
    extra[mtp + "shared_head.norm.weight"] = ck.get("model.norm.weight")
    extra[mtp + "shared_head.head.weight"] = ck.get("lm_head.weight")
    # A tensor lies in one shard only (readers refuse an index that names
    # another shard than the one holding it): shards without replaced
    # tensors are linked, the others rewritten without them.
    for f in sorted(set(ck.index["weight_map"].values())):
        names = [n for n, g in ck.index["weight_map"].items() if g == f]
        target = os.path.join(d, f)
        if os.path.lexists(target):
            os.remove(target)
        if any(n in extra for n in names):
            write_shard(target, {n: ck.get(n) for n in names if n not in extra})
        else:
            os.symlink(os.path.abspath(os.path.join(src, f)), target)
    write_shard(os.path.join(d, "model-mtp.safetensors"), extra)
    index = dict(ck.index)
    index["weight_map"] = dict(ck.index["weight_map"])
    for name in extra:
        index["weight_map"][name] = "model-mtp.safetensors"
    index["weight_map"] = dict(sorted(index["weight_map"].items()))
    json.dump(index, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    cfg["num_nextn_predict_layers"] = 1
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=2)
    return d


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(r.stderr)
    return r, time.time() - t


def figures(stderr):
    num = r"([0-9.]+)"
    g = {}
    m = re.search(r"drafts accepted at position 1: (\d+)/(\d+)", stderr)
    g["accepted"], g["drafted"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"plain (\d+) token\(s\) in " + num + r" ms \(" + num + r" tok/s\), "
                  r"speculative (\d+) in " + num + r" ms \(" + num + r" tok/s\): speed-up "
                  + num, stderr)
    g["plain_tok_s"], g["spec_tok_s"], g["speedup"] = (float(m.group(3)), float(m.group(6)),
                                                       float(m.group(7)))
    m = re.search(r"plain decode " + num + r" ms \(median\), verify " + num + r" ms, MTP "
                  + num + r" ms", stderr)
    g["decode_ms"], g["verify_ms"], g["mtp_ms"] = map(float, m.groups())
    g["equal"] = "speculative tokens equal plain decoding's" in stderr
    return g


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bin"))
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--prompt", type=int, default=64)
    p.add_argument("--json")
    p.add_argument("--variants", default="random,agree")
    a = p.parse_args()
    tool = lambda t: os.path.join(a.bin, t)  # noqa: E731
    cfg = json.load(open(os.path.join(a.dir, "config.json")))
    prompt = np.random.default_rng(1).integers(2, cfg["vocab_size"], a.prompt)
    results = {}
    for kind in a.variants.split(","):
        d = make_variant(a.dir, a.out, kind)
        mlir, so = os.path.join(a.out, kind + ".mlir"), os.path.join(a.out, kind + ".so")
        run([tool("dsv3-import"), d, "-o", mlir, "--max-seq-len=256"])
        run([tool("dsv3-compile"), mlir, "--target=host", "-o", so])
        r, secs = run([tool("dsv3-generate"), so, f"--parameters={d}",
                       "--prompt-ids=" + ",".join(map(str, prompt)),
                       f"--max-new-tokens={a.tokens}", "--ignore-eos", "--speculative=mtp"])
        sys.stderr.write(r.stderr)
        results[kind] = figures(r.stderr)
        results[kind]["seconds"] = secs
    print("\n| MTP weights | accepted | plain tok/s | speculative tok/s | speed-up | "
          "plain decode ms | verify ms | MTP ms | tokens equal |")
    print("|---|---|---|---|---|---|---|---|---|")
    for kind, g in results.items():
        print(f"| {kind} | {g['accepted']}/{g['drafted']} | {g['plain_tok_s']:.3f} | "
              f"{g['spec_tok_s']:.3f} | {g['speedup']:.2f}x | {g['decode_ms']:.0f} | "
              f"{g['verify_ms']:.0f} | {g['mtp_ms']:.0f} | {g['equal']} |")
    if a.json:
        json.dump(results, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
