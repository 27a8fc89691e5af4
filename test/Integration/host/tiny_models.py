"""Whole tiny DeepSeek models, imported from their checkpoint directories,
against Hugging Face transformers run in float64 on the dequantized weights
(fixtures: test/Integration/fixtures/tiny_models/gen_tiny_models.py).

For one model directory: dsv3-import (f32 activations, a static prefill of 4
tokens, caches of 64 rows), dsv3-compile for host, bind the checkpoint, then
  * the 7-token prompt as one 4-token prefill and 3 decode steps: logits of
    every prompt position match the reference (prefill returns all of them
    with --prefill-logits=all), max-abs-relative error <= 1e-4;
  * 16 decode steps fed the reference's greedy tokens: logits <= 1e-4;
  * the prefill chunk equals the same 4 tokens decoded one by one;
  * 32 greedy tokens equal transformers' generate() on the float32 model;
  * a token id >= vocab and a start_pos past the cache are refused before
    anything runs, naming the bound.
Imported again with the default dynamic token count (any prompt length per
prefill call): the whole prompt in one prefill matches the reference, then 16
decode steps; prefill 3 + prefill 2 equals one prefill of 5; a start_pos that
leaves no room for the tokens, and more tokens than max_seq_len, are refused;
decode_greedy (argmax in the graph) gives the 32 greedy tokens.
Then the same directory imported with the default bf16 activations (and
caches; same prefill chunk and cache size), compiled for host and run for 32
greedy tokens the same way, against transformers' generate() on the bfloat16
model (generate_ids_bf16, and its logits of each step, generate_logits_bf16),
by vLLM's criterion for generation in reduced precision: either all 32 tokens
are equal, or at the first position where they differ (the tokens before it
equal) dsv3's token is among the top 5 of HF's logits at that step AND HF's
token among the top 5 of dsv3's logits at that step (both ranks printed; the
tokens after it follow different prefixes and are not compared).
With --target=cuda-sim, the f32 import is compiled for cuda-sim (the cuda
strategy's kernels run on the host, threads serialized phase by phase) and
only the checks up to the 32 greedy tokens run.
Usage: tiny_models.py MODEL_DIR OUT_DIR [--all-logits] [--target=T]"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                "python"))
from dsv3_testing import check, run  # noqa: E402
import dsv3rt  # noqa: E402

model_dir, out = sys.argv[1], sys.argv[2]
all_logits = "--all-logits" in sys.argv
target = next((a.split("=", 1)[1] for a in sys.argv[3:]
               if a.startswith("--target=")), "host")
P, L, TOL, TOPK = 4, 64, 1e-4, 5
ref = np.load(os.path.join(model_dir, "reference.npz"))


def build(name, flags):
    mlir, so = (os.path.join(out, name + ext) for ext in (".mlir", ".so"))
    run(["dsv3-import", model_dir, "-o", mlir, f"--prefill-tokens={P}",
         f"--max-seq-len={L}"] + flags)
    run(["dsv3-compile", mlir, f"--target={target}", "-o", so])
    return so


so = build("model", ["--activation-type=f32"]
           + (["--prefill-logits=all"] if all_logits else []))


def max_rel(got, want):
    want = np.asarray(want, np.float64)
    return float(np.abs(np.asarray(got, np.float64) - want).max()
                 / np.abs(want).max())


class Runner:
    """One session: calls prefill/decode at the next free cache row."""

    def __init__(self, lib=None, threads=0):
        self.session = dsv3rt.Session(threads=threads)
        self.module = self.session.load(lib or so)
        # The directory: its model.safetensors.index.json when it has one.
        self.module.bind(model_dir)
        self.pos = 0

    def call(self, entry, tokens, start=None):
        start = self.pos if start is None else start
        s = len(tokens)
        logits = self.module.call(
            entry, np.array([tokens], np.int64),
            np.arange(start, start + s, dtype=np.int64)[None],
            np.array([start], np.int64), np.array([start + s], np.int64))[0]
        self.pos = start + s
        return logits


ids = [int(t) for t in ref["input_ids"]]
a = Runner()
first = a.call("prefill", ids[:P])
rows = list(first) if all_logits else [None] * (P - 1) + [first[0]]
for t in ids[P:]:
    rows.append(a.call("decode", [t])[0])
for i, row in enumerate(rows):
    if row is not None:
        e = max_rel(row, ref["prompt_logits"][i])
        check(e <= TOL, f"prompt position {i}: logits rel error {e:.2e} <= {TOL}")
errs = [max_rel(a.call("decode", [int(t)])[0], ref["decode_logits"][k])
        for k, t in enumerate(ref["decode_ids"])]
check(max(errs) <= TOL,
      f"16 decode steps: max logits rel error {max(errs):.2e} <= {TOL}")

# The same four tokens, one decode step each, give the chunk's logits.
b = Runner()
step = [b.call("decode", [t])[0] for t in ids[:P]]
e = max_rel(step[-1], first[-1])
check(e <= 1e-5, f"decode x{P} equals one {P}-token prefill ({e:.2e})")


def greedy(r, n=32):
    """The prompt, then argmax of each step's logits: n tokens and the n
    logits rows they were chosen from (as float32)."""
    r.call("prefill", ids[:P])
    for t in ids[P:-1]:
        r.call("decode", [t])
    logits = r.call("decode", [ids[-1]])[0]
    tokens, rows = [], []
    for _ in range(n):
        rows.append(np.asarray(logits, np.float32))
        tokens.append(int(np.argmax(rows[-1])))
        logits = r.call("decode", [tokens[-1]])[0]
    return tokens, rows


c = Runner()
tokens, _ = greedy(c)
want = [int(t) for t in ref["generate_ids_f32"]]
check(tokens == want, f"32 greedy tokens equal transformers' generate (f32): {tokens}")
if target != "host":
    sys.exit(0)  # the rest checks the host runtime's and importer's paths

# Inputs outside the bounds the metadata records are refused.
vocab = ref["prompt_logits"].shape[1]
for bad, start, what in [([vocab], 0, "embedding indexes a table of"),
                         ([0], L, "writes 1 row(s) from start_pos")]:
    try:
        c.call("decode", bad, start=start)
        sys.exit(f"FAILED: decode of {bad} at {start} was not refused")
    except dsv3rt.Error as err:
        check(what in str(err), f"refused: {err}")

# The default import: prefill takes any token count (a dynamic dimension).
so_dyn = build("model_dyn", ["--activation-type=f32", "--prefill-tokens=0"]
               + (["--prefill-logits=all"] if all_logits else []))
d = Runner(so_dyn)
whole = d.call("prefill", ids)
n = len(ids)
check(whole.shape == ((n if all_logits else 1), vocab),
      f"dynamic prefill of {n} tokens returns logits {whole.shape}")
for i, row in enumerate(whole):
    k = i if all_logits else n - 1
    e = max_rel(row, ref["prompt_logits"][k])
    check(e <= TOL, f"dynamic prefill, position {k}: rel error {e:.2e} <= {TOL}")
errs = [max_rel(d.call("decode", [int(t)])[0], ref["decode_logits"][k])
        for k, t in enumerate(ref["decode_ids"])]
check(max(errs) <= TOL, f"dynamic prefill then 16 decode steps: max rel "
      f"error {max(errs):.2e} <= {TOL}")
# The session's thread count changes nothing: each parallel loop's
# iterations write disjoint outputs and every reduction stays in one
# iteration, so 1 and 2 threads give the same bits.
by_threads = []
for t in (1, 2):
    r = Runner(so_dyn, threads=t)
    check(r.session.threads == t, f"session threads = {t}")
    by_threads.append([r.call("prefill", ids)] +
                      [r.call("decode", [int(k)]) for k in ref["decode_ids"][:4]])
check(all(np.array_equal(np.asarray(x).view(np.uint32), np.asarray(y).view(np.uint32))
          for x, y in zip(*by_threads)),
      "prefill + 4 decode steps: --threads 1 and 2 give bit-identical logits")
# Chunked prefill (3 tokens, then 2 with the cache) equals one of 5.
one = Runner(so_dyn).call("prefill", ids[:5])[-1]
c3 = Runner(so_dyn)
c3.call("prefill", ids[:3])
two = c3.call("prefill", ids[3:5])[-1]
e = max_rel(two, one)
check(e <= 1e-5, f"prefill 3 + prefill 2 equals prefill 5 ({e:.2e})")
# decode_greedy (the argmax in the graph) gives transformers' greedy tokens.
g = Runner(so_dyn)
tokens = [int(np.argmax(g.call("prefill", ids)[-1]))]
while len(tokens) < 32:
    tokens.append(int(g.call("decode_greedy", [tokens[-1]])[0]))
want = [int(t) for t in ref["generate_ids_f32"]]
check(tokens == want, f"decode_greedy: 32 tokens equal transformers' generate (f32)")
# Sizes outside what the metadata allows are refused before anything runs.
for toks, start, what in [(ids[:4], L - 2, "with tokens = 4"),
                          ([0] * (L + 1), 0, f"is outside [1, {L}]")]:
    try:
        Runner(so_dyn).call("prefill", toks, start=start)
        sys.exit(f"FAILED: prefill of {len(toks)} at {start} was not refused")
    except dsv3rt.Error as err:
        check(what in str(err), f"refused: {err}")

# bf16 activations and caches (dsv3-import's default) against the bf16 HF
# model's generate(), by vLLM's criterion (see the docstring).
so16 = build("model_bf16", [])
tokens, rows = greedy(Runner(so16))
want = [int(t) for t in ref["generate_ids_bf16"]]
hf_rows = ref["generate_logits_bf16"]
check(hf_rows.shape == (32, vocab) and
      [int(t) for t in hf_rows.argmax(-1)] == want,
      "reference: argmax of each bf16 generate() logits row is its token")


def rank(row, token):
    """Rank of token in row, 1 = the largest; ties counted against it."""
    return int((row >= row[token]).sum())


if tokens == want:
    check(True, f"bf16: 32 greedy tokens equal transformers' generate (bf16): {tokens}")
else:
    i = next(k for k, (x, y) in enumerate(zip(tokens, want)) if x != y)
    ours_in_hf, hf_in_ours = rank(hf_rows[i], tokens[i]), rank(rows[i], want[i])
    print(f"bf16: tokens agree on the first {i}/32; at step {i} dsv3 {tokens[i]}"
          f" (rank {ours_in_hf} in HF's logits), HF {want[i]} (rank {hf_in_ours}"
          f" in dsv3's logits)")
    check(ours_in_hf <= TOPK and hf_in_ours <= TOPK,
          f"bf16: first difference at step {i}: each token in the other's top"
          f" {TOPK} (ranks {ours_in_hf}, {hf_in_ours}); dsv3 {tokens}, HF {want}")
