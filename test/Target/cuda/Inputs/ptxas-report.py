"""Assembles every kernel of a `dsv3-compile --emit=ptx` dump with
`ptxas -v` for one chip and prints one line per kernel (registers, spill
bytes, static shared memory), then a summary: how many kernels spill, how
many use more static shared memory than a block may (48 KiB), and how many
use tensor cores (mma.sync). A kernel ptxas rejects is reported too.

usage: ptxas-report.py PTXAS CHIP DUMP.ptx WORKDIR"""
import os
import re
import subprocess
import sys

ptxas, chip, dump, work = sys.argv[1:5]
kernels, current = {}, None
for line in open(dump):
    m = re.match(r"^// gpu.binary @(\S+)", line)
    if m:
        current = m.group(1)
        kernels[current] = []
    elif current is not None:
        kernels[current].append(line)

spilling = oversized = rejected = mma = 0
for name, lines in sorted(kernels.items()):
    path = os.path.join(work, name + ".ptx")
    text = "".join(lines)
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([ptxas, f"-arch={chip}", "-v", path, "-o", os.devnull],
                       capture_output=True, text=True)
    report = r.stdout + r.stderr
    if r.returncode != 0:
        rejected += 1
        print(f"{name}: ptxas failed: {report.strip()}")
        continue
    regs = sum(int(x) for x in re.findall(r"Used (\d+) registers", report))
    spills = sum(int(a) + int(b) for a, b in re.findall(
        r"(\d+) bytes spill stores, (\d+) bytes spill loads", report))
    smem = max([int(x) for x in re.findall(r"(\d+) bytes smem", report)] or [0])
    uses_mma = "mma.sync" in text
    spilling += spills > 0
    oversized += smem > 48 * 1024
    mma += uses_mma
    print(f"{name}: {regs} registers, {spills} spill bytes, {smem} bytes smem"
          + (", mma.sync" if uses_mma else ""))
print(f"{len(kernels)} kernels: {spilling} spill, {oversized} over 48 KiB of "
      f"shared memory, {rejected} rejected, {mma} on tensor cores")
