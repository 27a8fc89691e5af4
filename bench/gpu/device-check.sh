#!/usr/bin/env bash
# Prepared check for a lent GPU machine (CUDA driver + PyTorch, no LLVM).
# Build here first, then carry build/bin/dsv3-run, build/lib/libdsv3rt.so and
# the demo directory (scripts/demo.sh writes build/demo/: modules, weights,
# inputs, host outputs):
#   bench/gpu/device-check.sh build/bin build/demo
# Runs the cuda module of the V3 attention projections, compares it with the
# host module's outputs and with PyTorch computing the same layer on the GPU.
# NOTE: not yet run on a GPU (no device was lent to the session that wrote it).
set -euo pipefail
bin="${1:?usage: device-check.sh BIN_DIR DEMO_DIR}"
demo="${2:?usage: device-check.sh BIN_DIR DEMO_DIR}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
for out in q kv_c k_pe; do rm -f "$demo/$out.cuda.npy"; done
timeout 300 "$bin/dsv3-run" "$demo/attn_proj.cuda.so" --device=cuda --function=attn_proj \
  --parameters="$demo/weights.safetensors" --input=@"$demo/hidden.safetensors":hidden \
  --benchmark=10 \
  --output=@"$demo/q.cuda.npy" --output=@"$demo/kv_c.cuda.npy" --output=@"$demo/k_pe.cuda.npy"
timeout 300 python3 - "$demo" <<'PY'
import json, struct, sys, time
import numpy as np, torch
d = sys.argv[1]
def load(path):
    raw = open(path, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n]); data = raw[8 + n:]
    dt = {"F32": torch.float32, "BF16": torch.bfloat16, "F8_E4M3": torch.float8_e4m3fn}
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__": continue
        b, e = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[b:e]), dtype=dt[v["dtype"]]).reshape(v["shape"])
    return out
w = {k: v.cuda() for k, v in load(f"{d}/weights.safetensors").items()}
x = load(f"{d}/hidden.safetensors")["hidden"].cuda().float()
L = "model.layers.0.self_attn."
def deq(n):
    q = w[L + n + ".weight"].float(); s = w[L + n + ".weight_scale_inv"]
    s = s.repeat_interleave(128, 0).repeat_interleave(128, 1)[: q.shape[0], : q.shape[1]]
    return q * s
def rms(v, g): return v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * g.float()
torch.cuda.synchronize(); t = time.perf_counter()
qa = rms(x @ deq("q_a_proj").T, w[L + "q_a_layernorm.weight"])
kv = x @ deq("kv_a_proj_with_mqa").T
ref = [qa @ deq("q_b_proj").T, rms(kv[:, :512], w[L + "kv_a_layernorm.weight"]), kv[:, 512:]]
torch.cuda.synchronize(); ms = (time.perf_counter() - t) * 1e3
print(f"PyTorch (dequantize + f32 GEMM) on the GPU: {ms:.2f} ms")
print(f"{'output':8s} {'cuda vs host':>14s} {'cuda vs torch':>14s}")
for n, r in zip(("q", "kv_c", "k_pe"), ref):
    c = np.load(f"{d}/{n}.cuda.npy").astype(np.float64); h = np.load(f"{d}/{n}.npy").astype(np.float64)
    r = r.double().cpu().numpy()
    print(f"{n:8s} {np.linalg.norm(c - h) / np.linalg.norm(h):14.2e} {np.linalg.norm(c - r) / np.linalg.norm(r):14.2e}")
PY

# Issue 3 (MLA decode at FlashMLA's shapes) and issue 4 (MoE layer at T = 64
# and 4096): each runs when its prepared folder was carried; see the
# docstrings of the two scripts for the `prepare` step done here first.
if [ -d build/mla_decode_gpu ]; then
  timeout 500 python3 bench/gpu/mla_decode_gpu.py run --dir build/mla_decode_gpu
fi
if [ -d build-moe-gpu ]; then
  timeout 200 python3 examples/moe_layer/gen_weights.py --out /tmp/moe-gpu \
    --expect build-moe-gpu/weights.stamp.json
  timeout 500 python3 bench/gpu/moe_layer_gpu.py run --carry build-moe-gpu --work /tmp/moe-gpu
fi

# The cuda strategy's decode GEMVs at V3's decode shapes (q_a, q_b, kv_a,
# o_proj, 8 routed experts' gate_proj, the bf16 lm_head) against PyTorch on
# the same GPU; prepared here by
#   python3 bench/gpu/decode_gemv_gpu.py prepare --carry build-gemv-gpu
# (1.3 MiB). Guarded: a failure here does not skip the parts after it.
if [ -d build-gemv-gpu ]; then
  timeout 300 python3 bench/gpu/decode_gemv_gpu.py run --carry build-gemv-gpu \
    || echo "decode GEMV check: FAILED (exit $?)"
fi

# The cuda strategy's tiled GEMM for prompts at V3's prefill shapes (4096
# tokens; the routed experts' gate_proj as a grouped GEMM) against PyTorch
# (bf16 matmul, torch._scaled_mm) on the same GPU; prepared here by
#   python3 bench/gpu/prompt_gemm_gpu.py prepare --carry build-gemm-gpu
# (1.6 MiB). Guarded like the GEMV check.
if [ -d build-gemm-gpu ]; then
  timeout 400 python3 bench/gpu/prompt_gemm_gpu.py run --carry build-gemm-gpu \
    || echo "prompt GEMM check: FAILED (exit $?)"
fi

# Issue 8: a whole model with a dynamic token count on cuda (one module, two
# prompt lengths), against the host module's logits. Prepared here by
# bench/gpu/prepare_tiny_dynamic.sh (build/tiny_dynamic, 6.5 MiB).
if [ -d build/tiny_dynamic ]; then
  t=build/tiny_dynamic
  for n in 3 5; do
    timeout 120 "$bin/dsv3-run" "$t/model.cuda.so" --device=cuda --function=prefill \
      --parameters="$t" --input=@"$t/ids_$n.npy" --input=@"$t/pos_$n.npy" \
      --input=@"$t/zero.npy" --input=@"$t/len_$n.npy" \
      --output=@"$t/logits_$n.cuda.npy" --output=none > /dev/null
  done
  timeout 60 python3 - "$t" <<'PY'
import sys
import numpy as np
t = sys.argv[1]
for n in (3, 5):
    c = np.load(f"{t}/logits_{n}.cuda.npy").astype(np.float64)
    h = np.load(f"{t}/logits_{n}.host.npy").astype(np.float64)
    print(f"tiny_v3 prefill of {n} tokens: cuda vs host rel {np.linalg.norm(c - h) / np.linalg.norm(h):.2e}, "
          f"argmax {int(c.argmax())} vs {int(h.argmax())}")
PY
fi
