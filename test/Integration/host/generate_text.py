"""Text in, text out: python -m dsv3 generate with the tiny V3 checkpoint's
byte-level tokenizer.json (the Hugging Face tokenizers package; id b is byte
b, 0 and 1 are bos and eos) and the chat template of its
tokenizer_config.json (jinja2).

  * encoding: the ids of a prompt are bos (0) followed by its UTF-8 bytes;
    decoding gives the text back;
  * --prompt: python -m dsv3 encodes the prompt that way and streams the
    decoded text of exactly the ids that Session.generate and dsv3-generate
    produce for those prompt ids (greedy, and seeded sampling);
  * text streaming: bytes are printed once a UTF-8 sequence is complete;
    bytes that never become valid UTF-8 (a random model emits them) are
    printed as U+FFFD, at the latest when generation ends;
  * --chat: the prompt is the template rendered for one user message (and
    --system), ending with the generation prompt: bos + "User: ...\\n\\n
    Assistant:"; the ids and the streamed text follow from that.
Usage: generate_text.py MODEL_DIR OUT_DIR"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(HERE, "..", "..", "..", "python")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, PYTHON_DIR)
from dsv3_testing import check, run, tool  # noqa: E402
import dsv3  # noqa: E402
import dsv3rt  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

model_dir, out = os.path.abspath(sys.argv[1]), sys.argv[2]
so = os.path.join(out, "model.so")
run(["dsv3-import", model_dir, "-o", os.path.join(out, "model.mlir"),
     "--prefill-tokens=4", "--max-seq-len=64", "--activation-type=f32"])
run(["dsv3-compile", os.path.join(out, "model.mlir"), "--target=host", "-o", so])

tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
for text in ["The capital of France is", "héllo €, ünïcödé ✓\n\tend"]:
    ids = tok.encode(text).ids
    check(ids == [0] + list(text.encode("utf-8")), f"encode({text!r}) = bos + UTF-8 bytes")
    check(tok.decode(ids, skip_special_tokens=True) == text, f"decode gives {text!r} back")
check(tok.encode("Hi", add_special_tokens=False).ids == [72, 105], "no bos without special tokens")
check(tok.decode([0, 72, 105, 1, 33], skip_special_tokens=True) == "Hi!", "bos/eos are skipped")

session = dsv3rt.Session()
module = session.load(so)
module.bind(model_dir)
EOS = dsv3.eos_token_ids(model_dir)
check(EOS == [1], f"config.json's eos_token_id is [1]: {EOS}")


def dsv3_main(*flags):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PYTHON_DIR, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "dsv3", "generate", "--model", model_dir, "--module", so]
    cmd += list(flags)
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, env=env)
    sys.stderr.write(r.stderr.decode())
    if r.returncode != 0:
        sys.exit(f"FAILED: python -m dsv3 exited with {r.returncode}")
    return r.stdout.decode("utf-8"), r.stderr.decode()


def dsv3_generate(prompt_ids, *flags):
    cmd = [tool("dsv3-generate"), so, f"--parameters={model_dir}",
           f"--prompt-ids={','.join(map(str, prompt_ids))}", "--quiet"] + list(flags)
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return [int(t) for t in r.stdout.split()]


prompt = "The capital of France is"
prompt_ids = [0] + list(prompt.encode())
for flags, kw in [([], {}),
                  (["--temperature", "0.8", "--seed", "7"], dict(temperature=0.8, seed=7)),
                  (["--temperature", "1.2", "--top-k", "50", "--top-p", "0.9", "--seed", "3"],
                   dict(temperature=1.2, top_k=50, top_p=0.9, seed=3))]:
    ids = list(session.generate(module, prompt_ids, 32, stop_ids=EOS, **kw))
    cli = dsv3_generate(prompt_ids, "--max-new-tokens=32",
                        *[f"{a}={b}" for a, b in zip(flags[::2], flags[1::2])])
    check(cli == ids, f"dsv3-generate and Session.generate agree {flags}: {ids}")
    stdout, stderr = dsv3_main("--prompt", prompt, "--max-new-tokens", "32", *flags)
    want = tok.decode(ids, skip_special_tokens=True)
    check(stdout == want + "\n", f"python -m dsv3 --prompt {prompt!r} {flags} prints the decoded "
          f"ids: {want!r}")
    check(f"prompt {len(prompt_ids)} tokens" in stderr and f"{len(ids)} new tokens" in stderr,
          "summary counts the prompt's byte tokens and the new tokens")

# Streaming: increments are whole characters; an unfinished sequence waits for
# its last byte and one that never completes is flushed as U+FFFD.
stream = dsv3.TextStream(tok)
pieces = [stream.add(t) for t in [72, 0xE2, 0x82, 0xAC, 105, 1, 0xC3]] + [stream.finish()]
check(pieces == ["H", "", "", "€", "i", "", "", "\ufffd"],
      f"TextStream holds incomplete UTF-8 back and flushes it at the end: {pieces}")

# --chat: the template of tokenizer_config.json.
rendered = dsv3.chat_prompt(model_dir, "Hi!")
check(rendered == "<｜begin▁of▁sentence｜>User: Hi!\n\nAssistant:", f"chat template: {rendered!r}")
rendered = dsv3.chat_prompt(model_dir, "Hi!", system="Be brief.")
check(rendered == "<｜begin▁of▁sentence｜>Be brief.\n\nUser: Hi!\n\nAssistant:",
      f"chat template with a system message: {rendered!r}")
for flags, text in [([], "User: Hi!\n\nAssistant:"),
                    (["--system", "Be brief."], "Be brief.\n\nUser: Hi!\n\nAssistant:")]:
    chat_ids = [0] + list(text.encode())
    rendered = dsv3.chat_prompt(model_dir, "Hi!", *flags[1:])
    check(tok.encode(rendered, add_special_tokens=False).ids == chat_ids,
          f"the rendered chat prompt encodes to bos + the bytes of {text!r}")
    ids = list(session.generate(module, chat_ids, 20, stop_ids=EOS))
    stdout, stderr = dsv3_main("--prompt", "Hi!", "--chat", "--max-new-tokens", "20", *flags)
    check(stdout == tok.decode(ids, skip_special_tokens=True) + "\n"
          and f"prompt {len(chat_ids)} tokens" in stderr,
          f"--chat {flags}: the continuation of the rendered template {ids}")
