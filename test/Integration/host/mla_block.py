"""dsv3.mla, decomposed by --dsv3-decompose-mla, against HF's DeepseekV3Attention.

Weights are bound by their HF names straight from the fixture. Checks, to 1e-5
relative: each form matches transformers; naive and absorbed agree; token by
token decode and a two-chunk prefill (over the caches they return) equal one
prefill. Run with the fixture of a q_lora_rank-null config, the module must
load without q_a_proj/q_a_layernorm/q_b_proj (there is no query norm)."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

fixture, out = sys.argv[1], sys.argv[2]
t = load_safetensors(fixture)
with open(fixture, "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    meta = json.loads(f.read(n))["__metadata__"]
cfg, rope = json.loads(meta["config"]), json.loads(meta["rope_parameters"])
x, pos, ref = t["hidden_states"], t["position_ids"], t["output"].astype(np.float64)
B, S, D = x.shape
C, R = cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]
L = 8  # cache rows
qr = cfg["q_lora_rank"] or 0
names = [k for k in t if k.startswith("model.layers.0.self_attn.")]
check(any(k.endswith("q_proj.weight") for k in names) == (qr == 0)
      and any("q_a_" in k or "q_b_" in k for k in names) == (qr != 0),
      f"fixture holds only the query weights of q_lora_rank={qr}")

def fl(v):
    return f"{float(v):.17e}"  # MLIR float literals need the dot


attrs = (f"num_heads = {cfg['num_attention_heads']} : i64, q_lora_rank = {qr} : i64, "
         f"kv_lora_rank = {C} : i64, qk_nope_head_dim = {cfg['qk_nope_head_dim']} : i64, "
         f"qk_rope_head_dim = {R} : i64, v_head_dim = {cfg['v_head_dim']} : i64, "
         f"rms_norm_eps = {fl(cfg['rms_norm_eps'])} : f32, theta = {fl(rope['rope_theta'])} : f64, "
         f"factor = {fl(rope['factor'])} : f64, original_max_position_embeddings = "
         f"{rope['original_max_position_embeddings']} : i64, beta_fast = {fl(rope['beta_fast'])} : f64, "
         f"beta_slow = {fl(rope['beta_slow'])} : f64, mscale = {fl(rope['mscale'])} : f64, "
         f"mscale_all_dim = {fl(rope['mscale_all_dim'])} : f64")


def ty(*shape, dt="f32"):
    return "tensor<" + "x".join(map(str, shape)) + f"x{dt}>"


def compile_mla(s, form):
    """Module of one dsv3.mla over s new tokens, decomposed in `form`."""
    tys = [ty(B, s, D), ty(B, s, dt="i64"), ty(B, L, C), ty(B, L, R), ty(B, dt="i64"),
           ty(B, dt="i64")]
    res = [tys[0], tys[2], tys[3]]
    args = ", ".join(f"%a{i}: {tt}" for i, tt in enumerate(tys))
    g = f"""func.func @mla({args}) -> ({", ".join(res)}) {{
  %o, %c, %k = dsv3.mla %a0, %a1, %a2, %a3, %a4, %a5 prefix("model.layers.0.self_attn")
      {{{attrs}}} : {", ".join(tys)} -> {", ".join(res)}
  return %o, %c, %k : {", ".join(res)}
}}"""
    base = f"{out}/mla_s{s}_{form}"
    with open(base + ".mlir", "w") as f:
        f.write(g)
    run(["dsv3-opt", base + ".mlir", f"--dsv3-decompose-mla=form={form}", "-o", base + ".dec.mlir"])
    run(["dsv3-compile", base + ".dec.mlir", "--target=host", "-o", base + ".so"])
    return base + ".so"


def run_mla(so, xs, ps, c, k, start, length):
    ins = [xs, ps, c, k, np.full(B, start, np.int64), np.full(B, length, np.int64)]
    save_safetensors(f"{out}/in.safetensors", {f"a{i}": a for i, a in enumerate(ins)})
    run(["dsv3-run", so, f"--parameters={fixture}"]
        + [f"--input=@{out}/in.safetensors:a{i}" for i in range(len(ins))]
        + [f"--output=@{out}/o{i}.npy" for i in range(3)])
    return [np.load(f"{out}/o{i}.npy") for i in range(3)]


# Unwritten cache rows hold NaN: attention must never read them.
c0 = np.full((B, L, C), np.nan, np.float32)
k0 = np.full((B, L, R), np.nan, np.float32)
outs = {}
for form in ("naive", "absorbed"):
    o, c1, k1 = run_mla(compile_mla(S, form), x, pos, c0, k0, 0, S)
    err = rel_error(o, ref)
    print(f"{form}: relative error vs transformers {err:.3e}")
    check(err < 1e-5, f"{form} dsv3.mla matches HF DeepseekV3Attention to 1e-5")
    outs[form] = (o, c1, k1)
check(rel_error(outs["naive"][0], outs["absorbed"][0]) < 1e-5, "naive and absorbed agree to 1e-5")
check(np.array_equal(outs["naive"][1][:, :S], outs["absorbed"][1][:, :S]), "same latent cache rows")

# Decode token by token (auto picks absorbed for S = 1) over the growing cache.
so1 = compile_mla(1, "auto")
c, k, steps = c0, k0, []
for i in range(S):
    o, c, k = run_mla(so1, x[:, i:i + 1], pos[:, i:i + 1], c, k, i, i + 1)
    steps.append(o)
err = rel_error(np.concatenate(steps, 1), outs["absorbed"][0])
check(err < 1e-5, f"decode step by step equals one prefill ({err:.1e})")

# Two chunks of prefill in the naive form: the second reads the first's rows
# from the cache.
s1 = 2
o1, c, k = run_mla(compile_mla(s1, "naive"), x[:, :s1], pos[:, :s1], c0, k0, 0, s1)
o2, c, k = run_mla(compile_mla(S - s1, "naive"), x[:, s1:], pos[:, s1:], c, k, s1, S)
err = rel_error(np.concatenate([o1, o2], 1), outs["naive"][0])
check(err < 1e-5, f"prefill in two chunks equals one prefill ({err:.1e})")
