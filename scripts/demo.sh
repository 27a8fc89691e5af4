#!/usr/bin/env bash
# The main job: installs what is missing, builds, then
#  1. imports a whole DeepSeek-V3-style model from its Hugging Face checkpoint
#     directory (dsv3-import), compiles it for host (and cuda) and generates
#     tokens with dsv3-generate, checking them against transformers;
#  2. the layer demos: the FP8 attention projections of one DeepSeek-V3 layer
#     (real V3 shapes and checkpoint names) against float64, and the whole V3
#     attention block.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
dir="$("$root/scripts/build.sh" | tail -n 1)"
DSV3_BIN="$dir/bin" "$root/.venv/bin/python" "$root/examples/tiny_model/demo.py" \
  --out "$dir/tiny_model" --cuda
DSV3_BIN="$dir/bin" "$root/.venv/bin/python" "$root/examples/attention_projections/demo.py" \
  --out "$dir/demo" "$@"
# The whole V3 attention block: prefill, decode steps over the session-owned
# KV cache, the refusal of a write past max_seq_len, host and cuda compiles.
DSV3_BIN="$dir/bin" "$root/.venv/bin/python" "$root/examples/mla_block/demo.py" \
  --out "$dir/mla_block"
