"""Runs the code blocks of docs/tutorial.md in a scratch directory.

Fenced blocks, in page order:
  ```<lang> file=NAME   written to NAME
  ```sh                 run with bash (-e -u -o pipefail) in the scratch directory,
                        with $DSV3_BIN first on PATH and $PY = this interpreter
  ```sh setup           not run: the reader's set-up (PATH, PY, cd), done here instead
  ```text               the output of the sh block just before it: compared line by
                        line with what that block printed on stdout, decimal numbers
                        (1.84e-07, 6.7e-08) matching any number
Usage: tutorial.py TUTORIAL.md OUT_DIR
"""
import os
import re
import subprocess
import sys

page, out = sys.argv[1], sys.argv[2]
blocks = re.findall(r"^```([^\n]*)\n(.*?)^```[ \t]*$", open(page).read(),
                    re.S | re.M)
if not blocks:
    sys.exit(f"{page}: no code blocks")

env = dict(os.environ)
if env.get("DSV3_BIN"):
    env["PATH"] = (os.path.abspath(env["DSV3_BIN"]) + os.pathsep
                   + env.get("PATH", ""))
env["PY"] = sys.executable

NUMBER = r"[-+]?\d+\.\d+(?:[eE][-+]?\d+)?"


def matches(expected, got):
    """Line-by-line equality, decimal numbers of `expected` matching any number."""
    want, have = expected.rstrip("\n").split("\n"), got.rstrip("\n").split("\n")
    if len(want) != len(have):
        return False
    for w, h in zip(want, have):
        parts = re.split(NUMBER, w)
        pattern = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?".join(map(re.escape, parts))
        if not re.fullmatch(pattern, h.rstrip()):
            return False
    return True


files = commands = compared = 0
last = None  # stdout of the sh block just run, until a block follows it
for n, (info, body) in enumerate(blocks, 1):
    words = info.split()
    lang = words[0] if words else ""
    attrs = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    if "file" in attrs:
        with open(os.path.join(out, attrs["file"]), "w") as f:
            f.write(body)
        files += 1
        last = None
    elif lang == "sh" and "setup" not in words:
        print(f"--- block {n}:\n{body}", end="", flush=True)
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=out,
                           env=env, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode != 0:
            sys.exit(f"{page}: block {n} failed with exit status {r.returncode}")
        commands += 1
        last = r.stdout
    elif lang == "text" and last is not None:
        if not matches(body, last):
            sys.exit(f"{page}: block {n} does not match the output of the "
                     f"command block before it:\n--- page:\n{body}--- got:\n{last}")
        compared += 1
        last = None
    else:
        last = None

print(f"tutorial: wrote {files} files, ran {commands} command blocks, "
      f"compared {compared} outputs")
