"""python -m dsv3 generate: text (or token ids) in, streamed text out.

    python -m dsv3 generate --model MODEL_DIR --module model.so --prompt "text"
        [--chat] [--max-new-tokens N] [--temperature T] [--top-k K]
        [--top-p P] [--seed S] [--stop-ids IDS] [--ignore-eos]
        [--device host|cuda] [--progress] [--quiet]

--prompt is tokenized with MODEL_DIR/tokenizer.json (the tokenizers package)
and the new tokens are printed as text as they come; --prompt-ids takes ids
and prints ids (no tokenizer needed). Generation stops at --max-new-tokens
(default: as many as the module's caches hold after the prompt), at
config.json's eos_token_id or at a --stop-ids id. A summary goes to stderr.
"""

import argparse
import os
import sys
import time

from . import Error, TextStream, chat_prompt, dsv3rt, eos_token_ids, load_tokenizer


def _ids(text):
    try:
        return [int(t) for t in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected token ids separated by commas: {text!r}")


def _parser():
    p = argparse.ArgumentParser(prog="python -m dsv3", description="dsv3 generation front end")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate text with a dsv3-compiled model",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--model", required=True, help="model directory (config.json, safetensors, tokenizer.json)")
    g.add_argument("--module", required=True, help="the module from dsv3-import + dsv3-compile")
    prompt = g.add_mutually_exclusive_group(required=True)
    prompt.add_argument("--prompt", help="prompt text (needs tokenizer.json and the tokenizers package)")
    prompt.add_argument("--prompt-ids", type=_ids, help="prompt token ids (1,2,3); prints ids")
    g.add_argument("--chat", action="store_true",
                   help="wrap --prompt in tokenizer_config.json's chat template (needs jinja2)")
    g.add_argument("--system", help="with --chat: a system message")
    g.add_argument("--max-new-tokens", type=int, default=None,
                   help="default: as many as the caches hold after the prompt")
    g.add_argument("--temperature", type=float, default=0.0, help="0 (default): greedy")
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--stop-ids", type=_ids, default=[], help="also stop after these ids")
    g.add_argument("--ignore-eos", action="store_true", help="do not stop on config.json's eos_token_id")
    g.add_argument("--device", choices=["host", "cuda"], default="host")
    g.add_argument("--progress", action="store_true",
                   help="report the bind's progress on stderr from the start (else only a bind "
                        "over 2 s, on a terminal, or with DSV3_PROGRESS=1)")
    g.add_argument("--quiet", action="store_true", help="no summary or progress on stderr")
    return p


def generate(args):
    if args.chat and args.prompt is None:
        raise Error("--chat applies to a text --prompt")
    tokenizer = None
    if args.prompt is not None:
        tokenizer = load_tokenizer(args.model)
        if args.chat:
            text = chat_prompt(args.model, args.prompt, args.system)
            prompt = tokenizer.encode(text, add_special_tokens=False).ids
        else:
            prompt = tokenizer.encode(args.prompt).ids
    else:
        prompt = args.prompt_ids
    stops = list(args.stop_ids) + ([] if args.ignore_eos else eos_token_ids(args.model))

    session = dsv3rt.Session(args.device)
    module = session.load(args.module)
    max_new = args.max_new_tokens
    if max_new is None:
        max_new = max(dsv3rt._Model(module).max_seq_len - len(prompt), 0)
    # Validates everything before the (possibly long) bind.
    tokens = session.generate(module, prompt, max_new, temperature=args.temperature,
                              top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                              stop_ids=stops)
    if args.quiet and args.progress:
        raise Error("--quiet and --progress contradict each other")
    start = time.perf_counter()
    module.bind(args.model, progress=True if args.progress else False if args.quiet else None)
    bound = time.perf_counter()
    stream = TextStream(tokenizer) if tokenizer else None
    times, out = [], []
    last = time.perf_counter()
    for token in tokens:
        now = time.perf_counter()
        times.append(now - last)
        out.append(token)
        if stream:
            sys.stdout.write(stream.add(token))
        else:
            sys.stdout.write(("" if len(out) == 1 else " ") + str(token))
        sys.stdout.flush()
        last = time.perf_counter()
    if stream:
        sys.stdout.write(stream.finish())
    sys.stdout.write("\n")
    sys.stdout.flush()
    if not args.quiet:
        why = "max-new-tokens"
        if out and out[-1] in stops:
            why = f"stop token {out[-1]}"
        msg = f"python -m dsv3: bound in {bound - start:.2f} s; prompt {len(prompt)} tokens"
        if times:
            msg += f", first token after {times[0] * 1e3:.1f} ms"
        if len(times) > 1:
            msg += f", decode {(len(times) - 1) / sum(times[1:]):.1f} tok/s"
        print(f"{msg}; {len(out)} new tokens; stop: {why}", file=sys.stderr)
    return 0


def main(argv=None):
    args = _parser().parse_args(argv)
    # Generated text may hold characters the terminal's encoding lacks (a
    # random model's bytes decode to anything): print a replacement rather
    # than stop with a UnicodeEncodeError halfway through.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")
    try:
        return generate(args)
    except (Error, OSError) as e:
        print(f"python -m dsv3: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
