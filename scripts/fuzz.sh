#!/usr/bin/env bash
# Fuzz smoke run (CI): configures build-fuzz/ (runtime only, clang with
# ASan + UBSan + libFuzzer), builds the fuzz targets and runs each for
# SECONDS (default 10) on its seed corpus. Exits non-zero on a crash, leaving
# the input in build-fuzz/fuzz-out/<target>/crashes/. See docs/fuzzing.md.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${DSV3_FUZZ_BUILD:-$root/build-fuzz}"
cmake -G Ninja -S "$root" -B "$dir" -DDSV3_ENABLE_COMPILER=OFF \
  -DDSV3_ENABLE_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 >&2
ninja -C "$dir" fuzzers >&2
DSV3_FUZZ_BIN="$dir/bin" DSV3_FUZZ_OUT="$dir/fuzz-out" \
  "$root/fuzz/run.sh" "${1:-10}"
