#!/usr/bin/env bash
# Configures and builds dsv3. Usage: scripts/build.sh [--sanitize]
# Release build in build/, ASan+UBSan build in build-asan/. Build output goes
# to stderr; the last line on stdout is the build directory.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/build"
extra=()
if [ "${1:-}" = "--sanitize" ]; then
  dir="$root/build-asan"
  extra=(-DDSV3_ENABLE_SANITIZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
else
  extra=(-DCMAKE_BUILD_TYPE=Release)
fi
cmake -G Ninja -S "$root" -B "$dir" \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DLLVM_USE_LINKER=lld -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DDSV3_PYTHON="$root/.venv/bin/python" "${extra[@]}" >&2
ninja -C "$dir" >&2
echo "$dir"
