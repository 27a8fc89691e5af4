#!/usr/bin/env bash
# Installs what dsv3 needs on Debian 12 when it is missing: LLVM/MLIR/Clang/LLD
# 22 (bookworm-security), LLVM's OpenMP runtime (libomp, which host modules
# link), CMake, Ninja, GoogleTest, nlohmann-json, and a
# Python virtual environment (.venv) with requirements.txt. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

pkgs=(llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22
      libclang-rt-22-dev libomp-22-dev cmake ninja-build libgtest-dev
      nlohmann-json3-dev
      python3 python3-venv
      binutils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "dsv3: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

# The CUDA toolkit (ptxas, fatbinary) is optional: without it the cuda target
# still emits PTX and the tests that need ptxas are reported unsupported.
[ -x "${DSV3_CUDA_PATH:-/usr/local/cuda}/bin/ptxas" ] ||
  echo "dsv3: note: no CUDA toolkit at ${DSV3_CUDA_PATH:-/usr/local/cuda}; cuda modules cannot be built"

py="${DSV3_PYTHON_BOOTSTRAP:-python3}"
if [ ! -x "$root/.venv/bin/python" ]; then
  "$py" -m venv "$root/.venv"
fi
"$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/requirements.txt"
