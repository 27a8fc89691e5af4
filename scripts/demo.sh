#!/usr/bin/env bash
# The main job: installs what is missing, builds, then compiles the FP8
# attention projections of one DeepSeek-V3 layer (real V3 shapes and
# checkpoint names) for host and cuda, runs the host module on a batch of
# tokens with seeded random weights, and checks it against float64.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
dir="$("$root/scripts/build.sh" | tail -n 1)"
DSV3_BIN="$dir/bin" "$root/.venv/bin/python" "$root/examples/attention_projections/demo.py" \
  --out "$dir/demo" "$@"
# The whole V3 attention block: prefill, decode steps over the session-owned
# KV cache, the refusal of a write past max_seq_len, host and cuda compiles.
DSV3_BIN="$dir/bin" "$root/.venv/bin/python" "$root/examples/mla_block/demo.py" \
  --out "$dir/mla_block"
