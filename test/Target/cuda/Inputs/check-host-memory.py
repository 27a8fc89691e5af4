#!/usr/bin/env python3
"""Checks that the host code of a cuda module never dereferences device memory.

Reads LLVM IR (dsv3-compile --emit=llvm-ir) and verifies that every load and
store in a defined function addresses host memory only: its own stack
(allocas), module globals, or, in the ABI wrappers `_mlir_ciface_*` and
`dsv3_entry_*`, the pointer arguments (the args array and the memref
descriptors, which the runtime keeps on the host). Pointers loaded from a
descriptor are device pointers and never count as host memory. Calls to
memory intrinsics (llvm.memcpy and friends) are rejected outright.
Prints OK and the number of accesses checked, or each offending line, and
exits 1 on violations; with --expect-violations (a negative control for
tests) the exit status is inverted.
"""
import re
import sys

DEFINE = re.compile(r"^define .*@([\w.$]+)\((.*)\).*\{$")
ARG = re.compile(r"ptr(?: [a-z_]+)* (%[\w.]+)")
ADDR = re.compile(r"ptr ([%@][\w.$]+)")


def main(path):
    errors, checked = [], 0
    fn, host = None, set()
    for line in open(path):
        line = line.rstrip("\n")
        m = DEFINE.match(line)
        if m:
            fn, host = m.group(1), set()
            if fn.startswith(("_mlir_ciface_", "dsv3_entry_")):
                host.update(ARG.findall(m.group(2)))
            continue
        if fn is None:
            continue
        if line == "}":
            fn = None
            continue
        text = line.strip()
        lhs = text.split(" = ", 1)[0] if " = " in text else None
        rhs = text.split(" = ", 1)[1] if lhs else text
        if rhs.startswith("alloca "):
            host.add(lhs)
        elif rhs.startswith("getelementptr "):
            base = ADDR.findall(rhs)
            if base and (base[0] in host or base[0].startswith("@")):
                host.add(lhs)
        elif rhs.startswith(("load ", "store ")):
            checked += 1
            addr = ADDR.findall(rhs)[-1]
            if not (addr.startswith("@") or addr in host):
                errors.append(f"{fn}: {text}")
        elif re.search(r"call .*@llvm\.mem(cpy|move|set)", rhs):
            errors.append(f"{fn}: {text}")
    for e in errors:
        print("device memory accessed on the host:", e)
    if not errors:
        print(f"OK: {checked} host accesses checked")
    return 1 if errors else 0


if __name__ == "__main__":
    rc = main(sys.argv[-1])
    sys.exit(1 - rc if "--expect-violations" in sys.argv[1:-1] else rc)
