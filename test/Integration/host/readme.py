"""The README's "Using it" example runs as written: its first three commands
(dsv3-import MODEL_DIR, dsv3-compile model.mlir, dsv3-generate model.so)
taken from README.md itself, with MODEL_DIR the tiny V3 checkpoint and
build/bin/ the tools under test, in an empty directory: each exits 0 and
dsv3-generate prints the 64 new ids, all inside the model's vocabulary
(the numerics of generation are checked by generate.test and
tiny-models.test).
Usage: readme.py README.md MODEL_DIR OUT_DIR"""
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from dsv3_testing import check, tool  # noqa: E402

readme, model_dir, out = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
text = open(readme).read()
block = re.search(r"## Using it\n\n```sh\n(.*?)```", text, re.S)
check(block is not None, "README.md has a 'Using it' sh block")
commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
commands = [c for c in commands if c][:3]
check([shlex.split(c)[0] for c in commands] ==
      ["build/bin/dsv3-import", "build/bin/dsv3-compile", "build/bin/dsv3-generate"],
      f"its first three commands import, compile and generate: {commands}")

os.makedirs(out, exist_ok=True)
stdout = ""
for c in commands:
    argv = shlex.split(c)
    argv[0] = tool(os.path.basename(argv[0]))
    argv = [a.replace("MODEL_DIR", model_dir) for a in argv]
    print("+", " ".join(argv), flush=True)
    r = subprocess.run(argv, cwd=out, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    check(r.returncode == 0, f"exit 0: {c}")
    stdout = r.stdout

# dsv3-generate prints the generated ids on stdout.
ids = [int(t) for t in re.findall(r"-?\d+", stdout.split("\n")[0])]
vocab = 256  # tiny_v3's config.json
check(len(ids) == 64 and all(0 <= t < vocab for t in ids),
      f"64 new tokens generated, each < {vocab}: {ids}")
print(f"[SUCCESS] the README's example runs as written ({len(ids)} tokens)")
