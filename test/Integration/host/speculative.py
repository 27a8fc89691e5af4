"""Speculative decoding with the MTP module (dsv3-generate --speculative=mtp)
is lossless, on every tiny model.

tiny_v3 ships an MTP layer (model.layers.3.*). tiny_v2_lite and
tiny_dense_freq do not; the test gives each a seeded random one in a copy of
its checkpoint (the decoder layer copied from the last main layer of the
kind the MTP layer has by the config's rule, random enorm/hnorm/eh_proj,
shared_head copies of model.norm and lm_head, num_nextn_predict_layers 1).
Random MTP weights draft badly, so most drafts are rejected.

For each model, imported with f32 activations and a dynamic token count:
  * 64 greedy tokens with --speculative=mtp equal plain greedy decoding's;
    some drafts were rejected;
  * after generation the caches hold exactly the accepted tokens' rows
    (here after rejected drafts; for the accept-all model below, accepted):
    rows [0, cached_rows) of every main-model cache equal those of one
    prefill of the generated sequence, and those of the MTP layer's cache
    equal one mtp_prefill over it (rel <= 1e-5).
tiny_v3 imported with a static 4-token prefill gives the same tokens too (the
prompt's remainder goes through decode), and sampling at temperature 0.8 is
reproducible for a seed. Then tiny_v3 made an "accept-all" model: every main and MTP layer adds
nothing (o_proj and every down_proj zero), so the next token depends on
the current one only; the MTP module computes that same function
(eh_proj = [I | 0], enorm = 1, shared_head = model.norm and lm_head): every
draft is accepted, and the tokens still equal plain decoding's.
Usage: speculative.py FIXTURES_DIR OUT_DIR"""
import json
import os
import shutil
import subprocess
import sys

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
from dsv3_testing import check, load_safetensors, run, save_safetensors, tool  # noqa: E402
import dsv3rt  # noqa: E402

fixtures, out = sys.argv[1], sys.argv[2]
L, N = 128, 64
PROMPT = [0, 5, 6, 7, 8, 9, 10]


def read_checkpoint(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    files = (sorted(set(json.load(open(idx))["weight_map"].values()))
             if os.path.exists(idx) else ["model.safetensors"])
    w = {}
    for f in files:
        w.update(load_safetensors(os.path.join(d, f)))
    return w


def write_model(d, config, weights):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_safetensors(os.path.join(d, "model.safetensors"), weights)


def is_dense(c, layer):
    return (not c.get("n_routed_experts") or layer < c.get("first_k_dense_replace", 0)
            or layer % c.get("moe_layer_freq", 1) != 0)


def with_random_mtp(name):
    """A copy of fixtures/name with a seeded random MTP layer."""
    src = os.path.join(fixtures, name)
    c = json.load(open(os.path.join(src, "config.json")))
    w = dict(read_checkpoint(src))
    n = c["num_hidden_layers"]
    source = max(l for l in range(n) if is_dense(c, l) == is_dense(c, n))
    for k, v in list(w.items()):
        prefix = f"model.layers.{source}."
        if k.startswith(prefix):
            w[f"model.layers.{n}." + k[len(prefix):]] = v.copy()
    rng = np.random.default_rng(7)
    h = c["hidden_size"]
    bf16 = ml_dtypes.bfloat16
    mtp = f"model.layers.{n}."
    w[mtp + "enorm.weight"] = (1 + 0.1 * rng.standard_normal(h)).astype(bf16)
    w[mtp + "hnorm.weight"] = (1 - 0.2 * rng.standard_normal(h)).astype(bf16)
    eh = rng.standard_normal((h, 2 * h)) * 8
    if "quantization_config" in c:
        w[mtp + "eh_proj.weight"] = eh.astype(ml_dtypes.float8_e4m3fn)
        w[mtp + "eh_proj.weight_scale_inv"] = np.full(
            (-(-h // 128), -(-2 * h // 128)), 0.02 / 8, np.float32)
    else:
        w[mtp + "eh_proj.weight"] = (eh * 0.02 / 8).astype(bf16)
    w[mtp + "embed_tokens.weight"] = w["model.embed_tokens.weight"].copy()
    w[mtp + "shared_head.norm.weight"] = w["model.norm.weight"].copy()
    w[mtp + "shared_head.head.weight"] = w["lm_head.weight"].copy()
    c["num_nextn_predict_layers"] = 1
    d = os.path.join(out, name + "_mtp")
    write_model(d, c, w)
    return d


def accept_all():
    """tiny_v3 whose MTP module predicts what the main model will."""
    src = os.path.join(fixtures, "tiny_v3")
    c = json.load(open(os.path.join(src, "config.json")))
    w = dict(read_checkpoint(src))
    n = c["num_hidden_layers"]
    for k in w:
        # Every layer (main and MTP) adds zero to the residual stream.
        if k.endswith(("o_proj.weight", "down_proj.weight")):
            w[k] = np.zeros_like(w[k])
    mtp = f"model.layers.{n}."
    h = c["hidden_size"]
    eye = np.zeros((h, 2 * h), np.float32)
    eye[:, :h] = np.eye(h)  # x = enorm(e): the next token's embedding
    w[mtp + "eh_proj.weight"] = eye.astype(ml_dtypes.float8_e4m3fn)
    w[mtp + "eh_proj.weight_scale_inv"] = np.ones_like(
        w[mtp + "eh_proj.weight_scale_inv"])
    w[mtp + "enorm.weight"] = np.ones(h, ml_dtypes.bfloat16)
    w[mtp + "embed_tokens.weight"] = w["model.embed_tokens.weight"].copy()
    w[mtp + "shared_head.norm.weight"] = w["model.norm.weight"].copy()
    w[mtp + "shared_head.head.weight"] = w["lm_head.weight"].copy()
    d = os.path.join(out, "accept_all")
    write_model(d, c, w)
    return d


def build(d, name, *flags):
    mlir, so = os.path.join(out, name + ".mlir"), os.path.join(out, name + ".so")
    run(["dsv3-import", d, "-o", mlir, f"--max-seq-len={L}", "--activation-type=f32"]
        + list(flags))
    run(["dsv3-compile", mlir, "--target=host", "-o", so])
    return so


def generate(so, d, *flags):
    cmd = [tool("dsv3-generate"), so, f"--parameters={d}",
           "--prompt-ids=" + ",".join(map(str, PROMPT)), f"--max-new-tokens={N}",
           "--ignore-eos"] + list(flags)
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode:
        sys.exit(f"dsv3-generate failed ({r.returncode})")
    return [int(t) for t in r.stdout.split()], r.stderr


def acceptance(stderr):
    line = next(l for l in stderr.splitlines() if "drafts accepted" in l)
    kept, drafted = line.split("position 1: ")[1].split(" ")[0].split("/")
    return int(kept), int(drafted)


def max_rel(got, want):
    want = np.asarray(want, np.float64)
    scale = np.abs(want).max()
    return float(np.abs(np.asarray(got, np.float64) - want).max() / scale) if scale else 0.0


def check_caches(so, d, tokens, states_file, name):
    """The caches after speculative decoding against a fresh prefill of the
    accepted sequence (main) and an mtp_prefill over it (MTP)."""
    saved = load_safetensors(states_file)
    with open(states_file, "rb") as f:
        n_header = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(n_header))["__metadata__"]
    rows, mtp_rows = int(meta["cached_rows"]), int(meta["mtp_cached_rows"])
    seq = PROMPT + tokens
    check(rows in (len(seq) - 1, len(seq)) and mtp_rows in (rows - 2, rows - 1, rows),
          f"{name}: {rows} main and {mtp_rows} MTP cache rows for {len(seq)} tokens")
    session = dsv3rt.Session()
    module = session.load(so)
    module.bind(d)
    pos = np.arange(rows, dtype=np.int64)[None]
    start, kv = np.array([0], np.int64), np.array([rows], np.int64)
    main = module.call("prefill", input_ids=np.array([seq[:rows]]), positions=pos,
                       start_pos=start, kv_len=kv)
    # MTP row i pairs hidden state i with token i + 1.
    mpos = np.arange(mtp_rows, dtype=np.int64)[None]
    module.call("mtp_prefill", input_ids=np.array([seq[1:mtp_rows + 1]]),
                hidden_states=main["hidden_states"][:, :mtp_rows], positions=mpos,
                start_pos=start, kv_len=np.array([mtp_rows], np.int64))
    layer = json.load(open(os.path.join(d, "config.json")))["num_hidden_layers"]
    worst, mtp_seen = 0.0, False
    for s in session.states():
        is_mtp = s.name.startswith(f"model.layers.{layer}.")
        mtp_seen |= is_mtp
        n = mtp_rows if is_mtp else rows
        want = session.read_state(s.name)[0, :n]
        worst = max(worst, max_rel(saved[s.name][0, :n], want))
    check(mtp_seen and worst <= 1e-5,
          f"{name}: rows [0, {rows}) of every main cache and [0, {mtp_rows}) of "
          f"the MTP layer's equal a fresh prefill of the accepted tokens "
          f"(rel {worst:.2e})")


for name in ("tiny_v3", "tiny_v2_lite", "tiny_dense_freq"):
    d = os.path.join(fixtures, name) if name == "tiny_v3" else with_random_mtp(name)
    so = build(d, name)
    states = os.path.join(out, name + "_states.safetensors")
    spec, stderr = generate(so, d, "--speculative=mtp", f"--state-output={states}")
    plain, _ = generate(so, d)
    check(spec == plain and len(spec) == N,
          f"{name}: {N} greedy tokens with --speculative=mtp equal plain decoding's")
    kept, drafted = acceptance(stderr)
    check(kept < drafted, f"{name}: {drafted - kept} of {drafted} drafts rejected")
    check("speculative tokens equal plain decoding's" in stderr,
          f"{name}: dsv3-generate reports the tokens equal")
    check_caches(so, d, spec, states, name)

# A static prefill of 4 tokens (as the cuda target takes): the 7-token
# prompt goes through one prefill and 3 decode steps, on both models.
d = os.path.join(fixtures, "tiny_v3")
so = build(d, "tiny_v3_static", "--prefill-tokens=4")
spec, stderr = generate(so, d, "--speculative=mtp")
plain, _ = generate(so, d)
check(spec == plain and len(spec) == N,
      "tiny_v3 with a static 4-token prefill: speculative tokens equal plain decoding's")

# Sampling (temperature 0.8): the run completes, the acceptance is reported
# and the seed fixes the tokens (the distribution is tested on the rule
# itself, SpeculativeTest).
sampled = generate(so, d, "--speculative=mtp", "--temperature=0.8", "--seed=3")
check(sampled[0] == generate(so, d, "--speculative=mtp", "--temperature=0.8",
                             "--seed=3")[0] and len(sampled[0]) == N
      and acceptance(sampled[1])[1] > 0,
      "speculative sampling at temperature 0.8 is reproducible for a seed")

d = accept_all()
so = build(d, "accept_all")
states = os.path.join(out, "accept_all_states.safetensors")
spec, stderr = generate(so, d, "--speculative=mtp", f"--state-output={states}")
plain, _ = generate(so, d)
kept, drafted = acceptance(stderr)
check(spec == plain and len(spec) == N, f"accept-all: {N} tokens equal plain decoding's")
check(kept == drafted and drafted > 0,
      f"accept-all: every draft accepted ({kept}/{drafted}), two tokens per verify call")
check_caches(so, d, spec, states, "accept-all")
print("ok")
