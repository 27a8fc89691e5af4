#!/usr/bin/env bash
# Prepares the device check of a whole model with a dynamic token count on
# cuda (bench/gpu/device-check.sh runs it when the folder is carried):
#   bench/gpu/prepare_tiny_dynamic.sh [OUT_DIR]   (default build/tiny_dynamic)
# Imports the committed tiny DeepSeek-V3 model with any prompt length,
# compiles one host and one cuda module, and records the host module's
# prefill logits for prompts of 3 and 5 tokens: the cuda module must give
# the same logits, up to bf16 accumulation-order differences, from one
# module for both lengths.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/build/tiny_dynamic}"
bin="${DSV3_BIN:-$root/build/bin}"
model="$root/test/Integration/fixtures/tiny_models/tiny_v3"
rm -rf "$out" && mkdir -p "$out"
cp "$model"/config.json "$model"/*.safetensors "$model"/model.safetensors.index.json "$out/"
"$bin/dsv3-import" "$model" -o "$out/model.mlir"
"$bin/dsv3-compile" "$out/model.mlir" --target=host -o "$out/model.host.so"
"$bin/dsv3-compile" "$out/model.mlir" --target=cuda -o "$out/model.cuda.so"
"$root/.venv/bin/python" - "$out" <<'PY'
import sys
import numpy as np
out = sys.argv[1]
ids = [17, 3, 200, 45, 9]
for n in (3, 5):
    np.save(f"{out}/ids_{n}.npy", np.array([ids[:n]], dtype=np.int64))
    np.save(f"{out}/pos_{n}.npy", np.arange(n, dtype=np.int64)[None])
    np.save(f"{out}/len_{n}.npy", np.array([n], dtype=np.int64))
np.save(f"{out}/zero.npy", np.array([0], dtype=np.int64))
PY
for n in 3 5; do
  "$bin/dsv3-run" "$out/model.host.so" --function=prefill --parameters="$out" \
    --input=@"$out/ids_$n.npy" --input=@"$out/pos_$n.npy" \
    --input=@"$out/zero.npy" --input=@"$out/len_$n.npy" \
    --output=@"$out/logits_$n.host.npy" --output=none > /dev/null
done
rm "$out/model.host.so" "$out/model.mlir"
du -sh "$out"
