#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit tests + lit).
# Usage: scripts/test.sh [--sanitize]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
dir="$("$root/scripts/build.sh" "$@" | tail -n 1)"
ctest --test-dir "$dir" --output-on-failure -j2
/usr/lib/llvm-22/bin/lit -sv "$dir/test"
