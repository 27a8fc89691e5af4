"""Generation end to end on a tiny DeepSeek V3 checkpoint (f32 activations,
prefill chunks of 4 tokens, caches of 64 rows): dsv3-generate, dsv3rt's
Session.generate and python -m dsv3.

  * greedy: 32 tokens equal transformers' generate() on the float32 model
    (reference.npz generate_ids_f32), from --prompt-ids and --prompt-file;
    the summary names the prompt chunks, tok/s, the stop reason, VmHWM;
  * seeded sampling (temperature 0.8, seed 7; with top-k/top-p too) gives
    the same ids twice, other ids with another seed, and the same ids from
    Python's Session.generate as from dsv3-generate (same PRNG/algorithm);
  * bind progress: the totals (files, parameters, bytes) with --progress or
    DSV3_PROGRESS=1, nothing unasked for a quick bind; Module.bind's
    progress callback and progress=True;
  * --stop-ids and config.json's eos_token_id stop after that token;
  * too long a prompt and an id >= vocab are refused with the message, exit
    status 2 and nothing on stdout; so is a bad sampling option;
  * python -m dsv3: ids in/out, a text prompt without tokenizer.json is
    refused, and with a tokenizer (a stand-in for the tokenizers package)
    the streamed text is the decoded greedy continuation.
Usage: generate.py MODEL_DIR OUT_DIR"""
import io
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(HERE, "..", "..", "..", "python")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, PYTHON_DIR)
from dsv3_testing import check, run, tool  # noqa: E402
import dsv3rt  # noqa: E402

model_dir, out = os.path.abspath(sys.argv[1]), sys.argv[2]
P, L = 4, 64
ref = np.load(os.path.join(model_dir, "reference.npz"))
prompt = [int(t) for t in ref["input_ids"]]
want = [int(t) for t in ref["generate_ids_f32"]]
so = os.path.join(out, "model.so")
run(["dsv3-import", model_dir, "-o", os.path.join(out, "model.mlir"),
     f"--prefill-tokens={P}", f"--max-seq-len={L}", "--activation-type=f32"])
run(["dsv3-compile", os.path.join(out, "model.mlir"), "--target=host", "-o", so])


def generate(*flags, params=model_dir, fail=False):
    """dsv3-generate's (ids, stderr); with fail, (stdout, stderr, status)."""
    cmd = [tool("dsv3-generate"), so, f"--parameters={params}"] + list(flags)
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if fail:
        return r.stdout, r.stderr, r.returncode
    if r.returncode != 0:
        sys.exit(f"FAILED: dsv3-generate exited with {r.returncode}")
    print(r.stdout, end="")
    return [int(t) for t in r.stdout.split()], r.stderr


ids = ",".join(map(str, prompt))
greedy, summary = generate(f"--prompt-ids={ids}", "--max-new-tokens=32")
check(greedy == want, f"greedy ids equal transformers' generate (f32): {greedy}")
for needle in ["prompt: 7 tokens (1 prefill chunk(s) of 4 + 3 decode step(s))",
               "tok/s", "decode: 31 token(s)", "median", "ms/token",
               "32 new token(s); stop: max-new-tokens (32)",
               f"eos: 1 ({model_dir}/config.json)", "peak resident memory",
               "(VmHWM)"]:
    check(needle in summary, f"summary has {needle!r}")
with open(os.path.join(out, "prompt.txt"), "w") as f:
    f.write(" ".join(map(str, prompt[:3])) + "\n" + ",".join(map(str, prompt[3:])) + "\n")
from_file, quiet = generate(f"--prompt-file={out}/prompt.txt", "--max-new-tokens=32", "--quiet")
check(from_file == want and quiet == "", "--prompt-file gives the same ids; --quiet prints no summary")

sampled = [f"--prompt-ids={ids}", "--max-new-tokens=32", "--temperature=0.8"]
a, _ = generate(*sampled, "--seed=7")
b, _ = generate(*sampled, "--seed=7")
c, _ = generate(*sampled, "--seed=8")
check(a == b and len(a) == 32, f"--seed=7 --temperature=0.8 twice: the same ids {a}")
check(a != c and a != want, "another seed, and greedy, give other ids")
cut = sampled + ["--seed=7", "--top-k=20", "--top-p=0.9"]
d, _ = generate(*cut)
check(d == generate(*cut)[0] and d != a, f"with --top-k=20 --top-p=0.9: reproducible {d}")

# Bind progress: the totals with --progress or DSV3_PROGRESS=1 (the bind is
# too quick for intermediate lines); none by default into a pipe.
_, summary = generate(f"--prompt-ids={ids}", "--max-new-tokens=2", "--progress")
done = ("dsv3-generate: bind: done: 2 files mapped (1.8 MB); 114/114 parameters bound "
        "(1.8/1.8 MB) in ")
check(done in summary, "--progress reports the bind's files, parameters and bytes")
os.environ["DSV3_PROGRESS"] = "1"
_, summary = generate(f"--prompt-ids={ids}", "--max-new-tokens=2")
check(done in summary, "DSV3_PROGRESS=1 reports it too")
del os.environ["DSV3_PROGRESS"]
_, summary = generate(f"--prompt-ids={ids}", "--max-new-tokens=2")
check("bind:" not in summary, "no progress unasked for a quick bind")

# Python's Session.generate: the same algorithm and PRNG.
session = dsv3rt.Session()
module = session.load(so)
snapshots = []
module.bind(model_dir, progress=lambda p: snapshots.append(str(p)))
check(snapshots[0] == "0/2 files mapped (0.0/1.8 MB)"
      and snapshots[-1] == "2 files mapped (1.8 MB); 114/114 parameters bound (1.8/1.8 MB)",
      f"Module.bind(progress=fn) reports {len(snapshots)} steps: "
      f"{snapshots[0]} ... {snapshots[-1]}")
saved, sys.stderr = sys.stderr, io.StringIO()
try:
    module.bind(model_dir, progress=True)
    printed = sys.stderr.getvalue()
finally:
    sys.stderr = saved
check(printed.startswith("dsv3rt: bind: done: 2 files mapped (1.8 MB); 114/114 parameters bound"),
      f"Module.bind(progress=True) prints the totals: {printed.strip()}")
py = list(session.generate(module, prompt, 32))
check(py == want, "Session.generate greedy equals the reference")
py = list(session.generate(module, prompt, 32, temperature=0.8, seed=7))
check(py == a, "Session.generate(temperature=0.8, seed=7) equals dsv3-generate's ids")
py = list(session.generate(module, prompt, 32, temperature=0.8, top_k=20, top_p=0.9, seed=7))
check(py == d, "... and with top_k=20, top_p=0.9")

# Stop ids and eos: stop after the first occurrence of a token.
k = next(i for i in range(3, 32) if want[i] not in want[:i])
s, summary = generate(f"--prompt-ids={ids}", "--max-new-tokens=32", f"--stop-ids={want[k]}")
check(s == want[:k + 1] and f"stop: stop id {want[k]}" in summary,
      f"--stop-ids={want[k]} stops after {k + 1} tokens")
check(list(session.generate(module, prompt, 32, stop_ids=[want[k]])) == want[:k + 1],
      "Session.generate stops on stop_ids")
eos_dir = os.path.join(out, "eos_model")
os.makedirs(eos_dir)
for name in os.listdir(model_dir):
    if name != "config.json":
        os.symlink(os.path.join(model_dir, name), os.path.join(eos_dir, name))
with open(os.path.join(model_dir, "config.json")) as f:
    config = json.load(f)
config["eos_token_id"] = [want[k], 0]
with open(os.path.join(eos_dir, "config.json"), "w") as f:
    json.dump(config, f)
e, summary = generate(f"--prompt-ids={ids}", "--max-new-tokens=32", params=eos_dir)
check(e == want[:k + 1] and f"stop: eos token {want[k]}" in summary,
      f"eos_token_id [{want[k]}, 0] stops after {k + 1} tokens")
e, _ = generate(f"--prompt-ids={ids}", "--max-new-tokens=32", "--ignore-eos", params=eos_dir)
check(e == want, "--ignore-eos does not stop")

# Refused before anything runs: one line on stderr, status 2, no ids.
for flags, message in [
    ([f"--prompt-ids={','.join(['5'] * 60)}", "--max-new-tokens=10"],
     "prompt of 60 tokens + 10 new tokens exceeds max_seq_len 64 of the module"),
    ([f"--prompt-ids=3,256", "--max-new-tokens=4"],
     "prompt token id 256 (position 1) is outside the vocabulary [0, 256) of the module"),
    ([f"--prompt-ids={ids}", "--max-new-tokens=4", "--temperature=-1"],
     "temperature -1 is not a finite number >= 0"),
    ([f"--prompt-ids={ids}", "--max-new-tokens=4", "--temperature=1", "--top-p=0"],
     "top-p 0 is outside (0, 1]"),
]:
    stdout, stderr, status = generate(*flags, fail=True)
    one_line = stderr.endswith("\n") and stderr.count("\n") == 1
    check(status == 2 and stdout == "" and one_line
          and stderr.startswith(f"dsv3-generate: error: {message}"),
          f"refused: {message}")
for args, message in [((prompt * 9, 2), "prompt of 63 tokens + 2 new tokens exceeds max_seq_len 64"),
                      (([256], 1), "prompt token id 256 (position 0) is outside the vocabulary")]:
    before = session.read_state("model.layers.0.self_attn.kv_cache.c_kv")
    try:
        session.generate(module, *args)
        sys.exit(f"FAILED: Session.generate{args[1:]} was not refused")
    except dsv3rt.Error as err:
        same = np.array_equal(before, session.read_state("model.layers.0.self_attn.kv_cache.c_kv"))
        check(message in str(err) and same, f"Session.generate refused, state untouched: {err}")


# python -m dsv3.
def dsv3_main(*flags, model=model_dir, tokenizers=False):
    env = dict(os.environ)
    path = [PYTHON_DIR] + ([os.path.join(HERE, "Inputs", "fake_tokenizers")] if tokenizers else [])
    env["PYTHONPATH"] = os.pathsep.join(path + [env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "dsv3", "generate", "--model", model, "--module", so] + list(flags)
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, env=env)
    return r.stdout.decode(), r.stderr.decode(), r.returncode


stdout, stderr, status = dsv3_main("--prompt-ids", ids, "--max-new-tokens", "32")
check(status == 0 and [int(t) for t in stdout.split()] == want,
      "python -m dsv3 --prompt-ids streams the greedy ids")
check("32 new tokens; stop: max-new-tokens" in stderr, f"python -m dsv3 summary: {stderr.strip()}")
check("bind:" not in stderr, "python -m dsv3: no bind progress unasked")
_, stderr, status = dsv3_main("--prompt-ids", ids, "--max-new-tokens", "2", "--progress")
check(status == 0 and "dsv3rt: bind: done: 2 files mapped" in stderr,
      "python -m dsv3 --progress reports the bind")

# A copy of the model directory (links) without its tokenizer files; this
# test writes its own there (generate-text.test uses the fixture's).
tok_dir = os.path.join(out, "tokenizer_model")
os.makedirs(tok_dir)
for name in os.listdir(model_dir):
    if not name.startswith("tokenizer"):
        os.symlink(os.path.join(model_dir, name), os.path.join(tok_dir, name))
stdout, stderr, status = dsv3_main("--prompt", "Hi", model=tok_dir)
check(status == 2 and "has no tokenizer.json" in stderr, f"no tokenizer.json: {stderr.strip()}")
with open(os.path.join(tok_dir, "tokenizer.json"), "w") as f:
    json.dump({"fake": "chars"}, f)
text = "Hi!"
encoded = [0] + [ord(ch) for ch in text]
expected = list(session.generate(module, encoded, 20, stop_ids=[1]))
expected_text = "".join(chr(t) for t in expected if t not in (0, 1))
stdout, stderr, status = dsv3_main("--prompt", text, "--max-new-tokens", "20", model=tok_dir,
                                   tokenizers=True)
check(status == 0 and stdout == expected_text + "\n",
      f"python -m dsv3 --prompt streams the decoded text of {expected}")
stdout, stderr, status = dsv3_main("--prompt", text, "--chat", model=tok_dir, tokenizers=True)
check(status == 2 and "tokenizer_config.json" in stderr, f"--chat without a template: {stderr.strip()}")
with open(os.path.join(tok_dir, "tokenizer_config.json"), "w") as f:
    json.dump({"bos_token": {"content": "<s>"}, "eos_token": "</s>",
               "chat_template": "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}>"
                                "{{ m['content'] }}{% endfor %}"
                                "{% if add_generation_prompt %}<assistant>{% endif %}"}, f)
stdout, stderr, status = dsv3_main("--prompt", text, "--chat", "--max-new-tokens", "20",
                                   model=tok_dir, tokenizers=True)
try:
    import jinja2  # noqa: F401
    chat = [ord(ch) for ch in "<s><user>Hi!<assistant>"]
    expected = list(session.generate(module, chat, 20, stop_ids=[1]))
    check(status == 0 and stdout == "".join(chr(t) for t in expected if t > 1) + "\n",
          "--chat renders the template (jinja2)")
except ImportError:
    check(status == 2 and "--chat needs the jinja2 package" in stderr,
          f"--chat without jinja2: {stderr.strip()}")
