"""MLA in the absorbed form (docs/semantics.md §10.4) vs HF's naive-form DeepseekV3Attention.

The projections, the absorption W_UKᵀ q_nope and the V/o projections are
float64 numpy; rope, the cache write and the attention core are dsv3 ops."""
import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

fixture, out = sys.argv[1], sys.argv[2]
# --target=cuda-sim: the cuda strategy's kernels on the host (the key's rope
# computed by the cache update's kernel, the split-KV attention).
target = sys.argv[3].split("=", 1)[1] if len(sys.argv) > 3 else "host"
t = load_safetensors(fixture)
with open(fixture, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    meta = json.loads(f.read(n))["__metadata__"]
cfg, rope = json.loads(meta["config"]), json.loads(meta["rope_parameters"])
H, C = cfg["num_attention_heads"], cfg["kv_lora_rank"]
NOPE, R, V = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
x = t["hidden_states"].astype(np.float64)
pos = t["position_ids"]
B, S, _ = x.shape
L = 8  # cache rows; S of them written at start_pos 0
w = {k.split("self_attn.")[1]: v.astype(np.float64) for k, v in t.items() if "self_attn." in k}

# DeepSeek's softmax scale (docs/semantics.md §9.3): (nope + rope)^-0.5 · m(factor, mscale_all_dim)².
m = 0.1 * rope["mscale_all_dim"] * math.log(rope["factor"]) + 1
scale = (NOPE + R) ** -0.5 * m * m
check(abs(scale - float(meta["scaling"])) < 1e-15, f"softmax scale {scale} equals HF's scaling")


def rms_norm(v, g, eps):
    return g * v / np.sqrt((v * v).mean(-1, keepdims=True) + eps)


eps = cfg["rms_norm_eps"]
q = rms_norm(x @ w["q_a_proj.weight"].T, w["q_a_layernorm.weight"], eps) @ w["q_b_proj.weight"].T
q = q.reshape(B, S, H, NOPE + R)
q_nope, q_pe = q[..., :NOPE], q[..., NOPE:]
kv = x @ w["kv_a_proj_with_mqa.weight"].T
c_kv = rms_norm(kv[..., :C], w["kv_a_layernorm.weight"], eps)
k_pe = kv[..., C:]
wkv_b = w["kv_b_proj.weight"].reshape(H, NOPE + V, C)  # rows [h][k_nope | v]
w_uk, w_uv = wkv_b[:, :NOPE], wkv_b[:, NOPE:]
q_abs = np.einsum("bshd,hdc->bshc", q_nope, w_uk)


def ty(*shape, dt="f32"):
    return "tensor<" + "x".join(map(str, shape)) + f"x{dt}>"


ya = (f"theta({rope['rope_theta']!r}) factor({rope['factor']!r}) original_max_position_embeddings("
      f"{rope['original_max_position_embeddings']}) beta_fast({rope['beta_fast']!r}) "
      f"beta_slow({rope['beta_slow']!r}) mscale({rope['mscale']!r}) "
      f"mscale_all_dim({rope['mscale_all_dim']!r})")
qa, qp, ck, kp = ty(B, S, H, C), ty(B, S, H, R), ty(B, L, C), ty(B, L, R)
nc, nk, ps, iv = ty(B, S, C), ty(B, S, R), ty(B, S, dt="i64"), ty(B, dt="i64")
graph = f"""
func.func @mla_core(%q: {qa}, %qpe: {qp}, %c: {nc}, %kpe: {nk}, %pos: {ps}, %start: {iv},
                    %len: {iv}) -> {qa} {{
  %qr = dsv3.rope %qpe at %pos {ya} : ({qp}, {ps}) -> {qp}
  %kr = dsv3.rope %kpe at %pos {ya} : ({nk}, {ps}) -> {nk}
  %zc = arith.constant dense<0.0> : {ck}
  %zk = arith.constant dense<0.0> : {kp}
  %c2, %k2 = dsv3.kv_cache_update %zc, %zk, %c, %kr, %start
      : {ck}, {kp}, {nc}, {nk}, {iv} -> {ck}, {kp}
  %o = dsv3.latent_attention %q, %qr, %c2, %k2, %start, %len scale({scale!r})
      : {qa}, {qp}, {ck}, {kp}, {iv}, {iv} -> {qa}
  return %o : {qa}
}}"""
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)
run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/m.so"])
f32 = np.float32
ins = [q_abs.astype(f32), q_pe.astype(f32), c_kv.astype(f32), k_pe.astype(f32), pos,
       np.zeros(B, np.int64), np.full(B, S, np.int64)]
save_safetensors(f"{out}/in.safetensors", {f"a{i}": a for i, a in enumerate(ins)})
run(["dsv3-run", f"{out}/m.so"] + [f"--input=@{out}/in.safetensors:a{i}" for i in range(len(ins))]
    + [f"--output=@{out}/o.npy"])
o_lat = np.load(f"{out}/o.npy").astype(np.float64)
o = np.einsum("bshc,hvc->bshv", o_lat, w_uv).reshape(B, S, H * V) @ w["o_proj.weight"].T
err = rel_error(o, t["output"])
print(f"{target}: relative error vs transformers {err:.3e}")
check(err < 1e-5, "absorbed MLA with dsv3 rope/cache/attention matches HF DeepseekV3Attention to 1e-5")
