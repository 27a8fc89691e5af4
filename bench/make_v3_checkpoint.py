"""Writes a DeepSeek-V3-shaped checkpoint with seeded random weights, in the
stock Hugging Face layout, for benchmarks at the real layer sizes.

  .venv/bin/python bench/make_v3_checkpoint.py --dir /work/v3ckpt            # 4 layers: 3 dense + 1 MoE
  .venv/bin/python bench/make_v3_checkpoint.py --dir /tmp/v3s --experts 32   # same, 32 routed experts

What it writes (DIR):
  config.json    DeepSeek-V3's own config (test/Import/Inputs/configs/deepseek-v3.json)
                 with num_hidden_layers = --layers, first_k_dense_replace =
                 --dense-layers, n_routed_experts = --experts and
                 num_nextn_predict_layers = 0 (no multi-token-prediction layer is
                 written; bench/mtp_speculative.py adds one to a copy). Everything else is V3's: hidden
                 7168, vocab 129280, 128 heads, MLA ranks 1536/512, dense MLP
                 18432, experts 2048 wide, 8 routed + 1 shared per token.
  model-0000i-of-0000n.safetensors, model.safetensors.index.json
                 tensors in name order, cut into shards of about --shard-gb GB
                 (5 by default, like DeepSeek's own shards). Projections are FP8
                 e4m3 ("F8_E4M3") with an f32 `weight_scale_inv` of
                 [ceil(N/128), ceil(K/128)] per [N, K] weight; norms, embeddings,
                 lm_head and the router weight are bf16, the router's
                 `e_score_correction_bias` f32. Within a file tensors are ordered
                 by element size then name (as the safetensors library writes
                 them), so every tensor is naturally aligned.

The weights are random but sized like a trained model's: each FP8 block uses
most of the e4m3 range (values ~ N(0, 100^2), clipped to +-448) and its scale
makes the dequantized weight's standard deviation ~ 1/sqrt(K), so every linear
keeps activations at unit scale; norms are ~1, the embedding ~N(0, 1), lm_head
~N(0, 1/hidden). It is not a trained model: generated text is meaningless, but
routing, attention and logits are well conditioned (no overflow, distinct
logits).

The data is streamed: each tensor is generated in chunks of ~64 MB and written
straight to its shard (the safetensors header, 8-byte little-endian length +
JSON with dtype/shape/data_offsets, is computed from the shapes first), so the
whole model is never in memory. Each tensor's values depend only on --seed and
the tensor's name, not on the shard layout.

--experts-back-to-back stores each MoE layer's routed-expert weights (and,
separately, their scales) for one projection consecutively in expert order, in
one file, so libdsv3rt can bind the stacked [E, N, K] parameter in place (zero
copy) instead of gathering the experts at bind time. The stock layout (the
default) interleaves experts by name (experts.0.down_proj, experts.0.gate_proj,
..., experts.1.down_proj, experts.10.down_proj, ...), as DeepSeek's checkpoint.
"""
import argparse
import json
import math
import os
import re
import shutil
import struct
import sys
import time
import zlib

import numpy as np

try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    sys.exit("make_v3_checkpoint.py: needs numpy and ml_dtypes (the project's .venv has both)")

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
V3_CONFIG = os.path.join(ROOT, "test", "Import", "Inputs", "configs", "deepseek-v3.json")

DTYPE_SIZE = {"F8_E4M3": 1, "BF16": 2, "F32": 4}
FP8_STD = 100.0  # std of the raw e4m3 values before clipping to +-448
CHUNK_BYTES = 64 << 20


def fp8_table():
    """256 e4m3 codes whose values follow N(0, FP8_STD^2) quantiles, clipped."""
    p = (np.arange(256) + 0.5) / 256
    z = np.array([_ndtri(v) for v in p]) * FP8_STD
    z = np.clip(z, -448, 448).astype(np.float32)
    return z.astype(ml_dtypes.float8_e4m3fn).view(np.uint8)


def bf16_table(mean, std):
    p = (np.arange(256) + 0.5) / 256
    z = (mean + std * np.array([_ndtri(v) for v in p])).astype(np.float32)
    return z.astype(ml_dtypes.bfloat16).view(np.uint16)


def _ndtri(p):
    """Inverse standard normal CDF (Acklam's rational approximation, |err| < 1.2e-9)."""
    a = [-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00]
    b = [-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01]
    c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00]
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / \
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - 0.02425:
        return -_ndtri(1 - p)
    q = p - 0.5
    r = q * q
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / \
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def make_config(args):
    with open(V3_CONFIG) as f:
        cfg = json.load(f)
    cfg["num_hidden_layers"] = args.layers
    cfg["first_k_dense_replace"] = args.dense_layers
    cfg["n_routed_experts"] = args.experts
    cfg["num_nextn_predict_layers"] = 0
    e, g, tg, k = args.experts, cfg["n_group"], cfg["topk_group"], cfg["num_experts_per_tok"]
    if args.layers > args.dense_layers:
        if e % g or e // g < 2 or tg * (e // g) < k:
            sys.exit(f"make_v3_checkpoint.py: --experts {e} does not fit V3's routing "
                     f"(n_group {g}, topk_group {tg}, {k} experts per token): it must be a "
                     f"multiple of {g} with at least max(2, ceil({k}/{tg})) experts per group, "
                     f"e.g. 16, 32, 64, 128, 256")
    return cfg


def tensor_specs(cfg):
    """[(name, dtype, shape, init)] of every tensor the model has."""
    D, V = cfg["hidden_size"], cfg["vocab_size"]
    H, QR, C = cfg["num_attention_heads"], cfg["q_lora_rank"], cfg["kv_lora_rank"]
    NOPE, R, VD = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    I, MI, E = cfg["intermediate_size"], cfg["moe_intermediate_size"], cfg["n_routed_experts"]
    S = cfg["n_shared_experts"]
    specs = []

    def fp8(name, n, k):
        specs.append((name + ".weight", "F8_E4M3", [n, k], "fp8"))
        specs.append((name + ".weight_scale_inv", "F32", [-(-n // 128), -(-k // 128)],
                      ("scale", k)))

    def norm(name, d):
        specs.append((name + ".weight", "BF16", [d], "norm"))

    specs.append(("model.embed_tokens.weight", "BF16", [V, D], "embed"))
    specs.append(("lm_head.weight", "BF16", [V, D], ("bf16w", D)))
    norm("model.norm", D)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        norm(p + "input_layernorm", D)
        norm(p + "post_attention_layernorm", D)
        a = p + "self_attn."
        fp8(a + "q_a_proj", QR, D)
        norm(a + "q_a_layernorm", QR)
        fp8(a + "q_b_proj", H * (NOPE + R), QR)
        fp8(a + "kv_a_proj_with_mqa", C + R, D)
        norm(a + "kv_a_layernorm", C)
        fp8(a + "kv_b_proj", H * (NOPE + VD), C)
        fp8(a + "o_proj", D, H * VD)
        m = p + "mlp."
        moe = (E > 0 and l >= cfg["first_k_dense_replace"]
               and l % cfg.get("moe_layer_freq", 1) == 0)
        if not moe:
            fp8(m + "gate_proj", I, D)
            fp8(m + "up_proj", I, D)
            fp8(m + "down_proj", D, I)
            continue
        specs.append((m + "gate.weight", "BF16", [E, D], ("bf16w", D)))
        specs.append((m + "gate.e_score_correction_bias", "F32", [E], "bias"))
        for e in range(E):
            x = f"{m}experts.{e}."
            fp8(x + "gate_proj", MI, D)
            fp8(x + "up_proj", MI, D)
            fp8(x + "down_proj", D, MI)
        fp8(m + "shared_experts.gate_proj", MI * S, D)
        fp8(m + "shared_experts.up_proj", MI * S, D)
        fp8(m + "shared_experts.down_proj", D, MI * S)
    return specs


def nbytes(spec):
    return DTYPE_SIZE[spec[1]] * math.prod(spec[2])


EXPERT_RE = re.compile(r"^(model\.layers\.\d+\.mlp\.experts\.)(\d+)(\..*)$")


def units(specs, back_to_back):
    """Groups of tensors that stay together and in order: one tensor each, or
    with back_to_back all experts of one (layer, projection, weight|scale)."""
    if not back_to_back:
        return [(s[0], [s]) for s in specs]
    groups, order = {}, []
    for s in specs:
        m = EXPERT_RE.match(s[0])
        key = (m.group(1) + "{e}" + m.group(3)) if m else s[0]
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(s)
    return [(k, groups[k]) for k in order]


def plan_shards(specs, shard_bytes, back_to_back):
    us = sorted(units(specs, back_to_back), key=lambda u: u[0])
    shards, cur, size = [], [], 0
    for key, members in us:
        b = sum(nbytes(s) for s in members)
        if cur and size + b > shard_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append((key, members))
        size += b
    if cur:
        shards.append(cur)
    # Within a file: larger elements first, then name (keeps natural alignment).
    out = []
    for sh in shards:
        sh.sort(key=lambda u: (-DTYPE_SIZE[u[1][0][1]], u[0]))
        out.append([s for _, members in sh for s in members])
    return out


class Generator:
    def __init__(self, seed):
        self.seed = seed
        self.t8 = fp8_table()
        self.t_embed = bf16_table(0.0, 1.0)
        self.t_norm = bf16_table(1.0, 0.05)

    def rng(self, name):
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def write(self, f, spec):
        name, dtype, shape, init = spec
        rng = self.rng(name)
        total = nbytes(spec)
        if init == "fp8":
            for off in range(0, total, CHUNK_BYTES):
                n = min(CHUNK_BYTES, total - off)
                idx = np.frombuffer(rng.bytes(n), np.uint8)
                f.write(self.t8[idx].tobytes())
        elif init in ("embed", "norm") or init[0] == "bf16w":
            if init == "embed":
                table = self.t_embed
            elif init == "norm":
                table = self.t_norm
            else:
                table = bf16_table(0.0, init[1] ** -0.5)
            count = total // 2
            step = CHUNK_BYTES // 2
            for off in range(0, count, step):
                n = min(step, count - off)
                idx = np.frombuffer(rng.bytes(n), np.uint8)
                f.write(table[idx].tobytes())
        elif init[0] == "scale":
            k = init[1]
            base = k ** -0.5 / FP8_STD
            s = base * np.exp(0.1 * rng.standard_normal(shape)).astype(np.float32)
            f.write(s.astype(np.float32).tobytes())
        elif init == "bias":
            f.write((0.01 * rng.standard_normal(shape)).astype(np.float32).tobytes())
        else:  # pragma: no cover
            raise AssertionError(init)


def write_shard(path, specs, gen, progress):
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, _ in specs:
        b = nbytes((name, dtype, shape, None))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + b]}
        off += b
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for spec in specs:
            gen.write(f, spec)
            progress(nbytes(spec))
    os.replace(path + ".tmp", path)
    return off


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="/work/v3ckpt", help="output directory (default %(default)s)")
    p.add_argument("--layers", type=int, default=4, help="num_hidden_layers (default 4)")
    p.add_argument("--dense-layers", type=int, default=3,
                   help="first_k_dense_replace: leading dense layers (default 3, V3's)")
    p.add_argument("--experts", type=int, default=256,
                   help="n_routed_experts (default 256, V3's; a multiple of 8, >= 16)")
    p.add_argument("--shard-gb", type=float, default=5.0, help="shard size in GB (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--experts-back-to-back", action="store_true",
                   help="store each projection's routed experts consecutively (zero-copy bind)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty --dir")
    args = p.parse_args()
    if args.layers < 1 or not 0 <= args.dense_layers <= args.layers:
        sys.exit("make_v3_checkpoint.py: need --layers >= 1 and 0 <= --dense-layers <= --layers")
    if args.experts < 1:
        sys.exit("make_v3_checkpoint.py: --experts must be >= 1")

    cfg = make_config(args)
    specs = tensor_specs(cfg)
    total = sum(nbytes(s) for s in specs)
    if os.path.isdir(args.dir) and os.listdir(args.dir):
        if not args.force:
            sys.exit(f"make_v3_checkpoint.py: {args.dir} is not empty (--force to overwrite)")
        for fn in os.listdir(args.dir):
            if fn.endswith((".safetensors", ".json", ".tmp")):
                os.remove(os.path.join(args.dir, fn))
    os.makedirs(args.dir, exist_ok=True)
    free = shutil.disk_usage(args.dir).free
    if free < total + (1 << 30):
        sys.exit(f"make_v3_checkpoint.py: {total / 1e9:.1f} GB needed, {free / 1e9:.1f} GB "
                 f"free in {args.dir}")

    shards = plan_shards(specs, int(args.shard_gb * 1e9), args.experts_back_to_back)
    n = len(shards)
    print(f"{len(specs)} tensors, {total / 1e9:.2f} GB in {n} shard(s) -> {args.dir}", flush=True)
    gen = Generator(args.seed)
    done, t0, last = [0], time.time(), [0.0]

    def progress(b):
        done[0] += b
        now = time.time()
        if now - last[0] > 10:
            last[0] = now
            print(f"  {done[0] / 1e9:6.2f} / {total / 1e9:.2f} GB  "
                  f"({done[0] / 1e6 / max(now - t0, 1e-9):.0f} MB/s)", flush=True)

    weight_map = {}
    for i, sh in enumerate(shards):
        fn = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        write_shard(os.path.join(args.dir, fn), sh, gen, progress)
        for s in sh:
            weight_map[s[0]] = fn
    with open(os.path.join(args.dir, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total},
                   "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    with open(os.path.join(args.dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(args.dir, "make_v3_checkpoint.json"), "w") as f:
        json.dump({"layers": args.layers, "dense_layers": args.dense_layers,
                   "experts": args.experts, "seed": args.seed, "shard_gb": args.shard_gb,
                   "experts_back_to_back": args.experts_back_to_back,
                   "total_bytes": total}, f, indent=2)
    print(f"wrote {total / 1e9:.2f} GB in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
