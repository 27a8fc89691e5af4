"""Main job: a whole DeepSeek model from its checkpoint directory to generated
tokens. The tiny V3-style checkpoint of the tests (3 layers: 1 dense + 2 MoE,
FP8 weights with 128x128 scales, sharded with an index, YaRN, an unused MTP
layer; test/Integration/fixtures/tiny_models/gen_tiny_models.py made it with
Hugging Face transformers) is imported with dsv3-import, compiled for host
with dsv3-compile and run with dsv3-generate, twice:
  * f32 activations: the 32 greedy tokens must equal transformers' generate()
    on the float32 model (stored in the fixture's reference.npz);
  * bf16 activations (the checkpoint's dtype, the default): tokens printed
    with their agreement with transformers' bfloat16 generate(); bf16
    rounding points differ between the two, so they may diverge after a
    near-tie, which is reported, not failed.
Then text: python -m dsv3 generate tokenizes a prompt string with the model
directory's tokenizer.json (the tiny models' byte-level one: each byte of the
UTF-8 text is a token) and streams the decoded text of the f32 module's
greedy tokens, checked against dsv3-generate on the same ids. The weights are
random, so the text is gibberish (printed escaped; bytes that are not UTF-8
show as U+FFFD).
With --cuda, the bf16 module is also compiled for cuda (no GPU is needed)."""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", ".."))
model = os.path.join(root, "test", "Integration", "fixtures", "tiny_models", "tiny_v3")
bindir = os.environ.get("DSV3_BIN", os.path.join(root, "build", "bin"))

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--out", required=True)
p.add_argument("--model", default=model, help="Hugging Face DeepSeek model directory")
p.add_argument("--tokens", type=int, default=32)
p.add_argument("--cuda", action="store_true")
p.add_argument("--prompt", default="The capital of France is",
               help="text prompt for the text run (needs tokenizer.json)")
args = p.parse_args()
os.makedirs(args.out, exist_ok=True)


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, check=True, text=True, **kw)
    print(f"  [{time.perf_counter() - t0:.1f} s]", flush=True)
    return r


ref = np.load(os.path.join(args.model, "reference.npz"))
prompt = ",".join(str(int(t)) for t in ref["input_ids"])
ok = True
for act in ["f32", "bf16"]:
    mlir = os.path.join(args.out, f"model_{act}.mlir")
    so = os.path.join(args.out, f"model_{act}.so")
    run([os.path.join(bindir, "dsv3-import"), args.model, "-o", mlir,
         "--max-seq-len=64", f"--activation-type={act}"])
    run([os.path.join(bindir, "dsv3-compile"), mlir, "--target=host", "-o", so])
    r = run([os.path.join(bindir, "dsv3-generate"), so, f"--parameters={args.model}",
             f"--prompt-ids={prompt}", f"--max-new-tokens={args.tokens}", "--ignore-eos"],
            stdout=subprocess.PIPE)
    got = [int(t) for t in r.stdout.split()]
    want = [int(t) for t in ref[f"generate_ids_{act}"]][:args.tokens]
    same = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), len(got))
    print(f"{act}: dsv3      {got}\n{act}: HF {act:>5}  {want}\n"
          f"{act}: {same} of {len(got)} leading tokens agree")
    if act == "f32" and got != want:
        print("FAILED: f32 greedy tokens differ from transformers' generate()")
        ok = False
    if act == "bf16" and args.cuda:
        # The cuda target takes static token counts only (for now): a
        # prefill of 4 tokens.
        static = os.path.join(args.out, "model_bf16_p4.mlir")
        run([os.path.join(bindir, "dsv3-import"), args.model, "-o", static,
             "--prefill-tokens=4", "--max-seq-len=64"])
        run([os.path.join(bindir, "dsv3-compile"), static, "--target=cuda",
             "-o", os.path.join(args.out, "model_bf16_cuda.so")])

# Text in, text out, through python -m dsv3 (tokenizers + the f32 module).
tokenizer_json = os.path.join(args.model, "tokenizer.json")
if not os.path.exists(tokenizer_json):
    print(f"text: skipped, {args.model} has no tokenizer.json")
else:
    so = os.path.join(args.out, "model_f32.so")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.join(root, "python")] + os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    env.setdefault("DSV3RT_LIBRARY", os.path.join(bindir, "..", "lib", "libdsv3rt.so"))
    r = run([sys.executable, "-m", "dsv3", "generate", "--model", args.model, "--module", so,
             "--prompt", args.prompt, "--max-new-tokens", str(args.tokens)],
            stdout=subprocess.PIPE, env=env, encoding="utf-8")
    text = r.stdout.removesuffix("\n")
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_json)
    prompt_ids = tok.encode(args.prompt).ids
    ids = run([os.path.join(bindir, "dsv3-generate"), so, f"--parameters={args.model}",
               f"--prompt-ids={','.join(map(str, prompt_ids))}",
               f"--max-new-tokens={args.tokens}", "--quiet"], stdout=subprocess.PIPE).stdout
    ids = [int(t) for t in ids.split()]
    print(f"text: prompt {args.prompt!r} -> {len(prompt_ids)} ids {prompt_ids}")
    print(f"text: {len(ids)} new tokens {ids}\n"
          f"text: as text (random weights, so gibberish bytes; escaped, U+FFFD where not "
          f"UTF-8):\n  {text!r}")
    if text != tok.decode(ids, skip_special_tokens=True):
        print("FAILED: python -m dsv3's text is not the decoded dsv3-generate ids")
        ok = False
    else:
        print("text: equals the decoded ids of dsv3-generate on the same prompt ids")
print("[SUCCESS]" if ok else "[FAILED]")
sys.exit(0 if ok else 1)
