#!/usr/bin/env bash
# Fuzz smoke run (CI), in two build directories (clang with ASan + UBSan +
# libFuzzer):
#   build-fuzz/           runtime only: the runtime's readers (safetensors,
#                         npy, metadata, checkpoint_index)
#   build-fuzz-compiler/  with the compiler, only the compiler's fuzz targets
#                         and the libraries they need (config, ir)
# configures both, builds the fuzz targets and runs each for SECONDS
# (default 10) on its seed corpus. Exits non-zero on a crash, leaving the
# input in <build dir>/fuzz-out/<target>/crashes/. See docs/fuzzing.md.
# Usage: scripts/fuzz.sh [SECONDS]
# Environment: DSV3_FUZZ_BUILD, DSV3_FUZZ_COMPILER_BUILD (the two
# directories); DSV3_FUZZ_COMPILER=OFF skips the compiler's targets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-10}"
dir="${DSV3_FUZZ_BUILD:-$root/build-fuzz}"
cdir="${DSV3_FUZZ_COMPILER_BUILD:-$root/build-fuzz-compiler}"
cmake -G Ninja -S "$root" -B "$dir" -DDSV3_ENABLE_COMPILER=OFF \
  -DDSV3_ENABLE_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 >&2
ninja -C "$dir" fuzzers >&2
status=0
DSV3_FUZZ_BIN="$dir/bin" DSV3_FUZZ_OUT="$dir/fuzz-out" \
  "$root/fuzz/run.sh" "$secs" || status=1
[[ ${DSV3_FUZZ_COMPILER:-ON} == OFF ]] && exit $status

# Line tables only (-gline-tables-only) are enough for symbolized reports
# and keep the instrumented compiler's build short; tests and tools are
# not built.
cmake -G Ninja -S "$root" -B "$cdir" -DDSV3_ENABLE_COMPILER=ON \
  -DDSV3_ENABLE_FUZZERS=ON -DDSV3_ENABLE_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DLLVM_USE_LINKER=lld -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir >&2
ninja -C "$cdir" compiler_fuzzers >&2
DSV3_FUZZ_BIN="$cdir/bin" DSV3_FUZZ_OUT="$cdir/fuzz-out" \
  "$root/fuzz/run.sh" "$secs" config ir || status=1
exit $status
