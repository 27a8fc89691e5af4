"""dsv3.latent_attention / dsv3.kv_cache_update on host vs float64
references (docs/semantics.md §10.4-10.5). Extra arguments go to dsv3-compile (the lit test
runs it again with --kv-split-size=2: the same checks on split-KV, 4 key
tiles of the 8-row cache merged by log-sum-exp, and with --cache-len=6 for 3
tiles)."""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out, compile_flags = sys.argv[1], sys.argv[2:]
# --target=cuda-sim: the cuda strategy's split-KV kernels (dsv3-gpu-latent-attention),
# threads serialized; --kv-split-size then sets its key tile.
target = "host"
for flag in list(compile_flags):
    if flag.startswith("--target="):
        target = flag.split("=", 1)[1]
        compile_flags.remove(flag)
B, H, C, R, L, T = 2, 4, 32, 16, 8, 6
# --cache-len=6: a cache that splits into an odd number of key tiles.
if compile_flags and compile_flags[0].startswith("--cache-len="):
    L = int(compile_flags.pop(0).split("=")[1])
# V3's softmax scale with YaRN (docs/semantics.md §9.3); the op takes it as given.
m = 0.1 * 1.0 * math.log(40.0) + 1
SCALE = 192 ** -0.5 * m * m


def ty(*shape, dt="f32"):
    return "tensor<" + "x".join(map(str, shape)) + f"x{dt}>"


def step(s):
    """Write s new rows at start_pos, then attend over the updated cache with
    kv_len = start_pos + s."""
    q, qp = ty(B, s, H, C), ty(B, s, H, R)
    ck, kp, nc, nk = ty(B, L, C), ty(B, L, R), ty(B, s, C), ty(B, s, R)
    iv = ty(B, dt="i64")
    return f"""
func.func @step{s}(%c: {ck}, %k: {kp}, %nc: {nc}, %nk: {nk}, %q: {q}, %qp: {qp},
                   %start: {iv}, %len: {iv}) -> ({q}, {ck}, {kp}) {{
  %c2, %k2 = dsv3.kv_cache_update %c, %k, %nc, %nk, %start
      : {ck}, {kp}, {nc}, {nk}, {iv} -> {ck}, {kp}
  %o = dsv3.latent_attention %q, %qp, %c2, %k2, %start, %len scale({SCALE!r})
      : {q}, {qp}, {ck}, {kp}, {iv}, {iv} -> {q}
  return %o, %c2, %k2 : {q}, {ck}, {kp}
}}"""


i64 = ty(1, dt="i64")
graph = f"""
func.func @two_keys(%q: {ty(1, 1, 1, 16)}, %qp: {ty(1, 1, 1, 8)}, %c: {ty(1, 2, 16)},
                    %k: {ty(1, 2, 8)}, %start: {i64}, %len: {i64}) -> {ty(1, 1, 1, 16)} {{
  %o = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale({24 ** -0.5!r})
      : {ty(1, 1, 1, 16)}, {ty(1, 1, 1, 8)}, {ty(1, 2, 16)}, {ty(1, 2, 8)}, {i64}, {i64}
      -> {ty(1, 1, 1, 16)}
  return %o : {ty(1, 1, 1, 16)}
}}

func.func @with_lse(%q: {ty(B, 2, H, C)}, %qp: {ty(B, 2, H, R)}, %c: {ty(B, L, C)},
                    %k: {ty(B, L, R)}, %start: {ty(B, dt="i64")}, %len: {ty(B, dt="i64")})
    -> ({ty(B, 2, H, C)}, {ty(B, 2, H)}) {{
  %o, %lse = dsv3.latent_attention %q, %qp, %c, %k, %start, %len scale({SCALE!r})
      : {ty(B, 2, H, C)}, {ty(B, 2, H, R)}, {ty(B, L, C)}, {ty(B, L, R)},
        {ty(B, dt="i64")}, {ty(B, dt="i64")} -> {ty(B, 2, H, C)}, {ty(B, 2, H)}
  return %o, %lse : {ty(B, 2, H, C)}, {ty(B, 2, H)}
}}
""" + step(6) + step(3) + step(1)
with open(f"{out}/graph.mlir", "w") as f:
    f.write(graph)
run(["dsv3-compile", f"{out}/graph.mlir", f"--target={target}", "-o", f"{out}/m.so"] + compile_flags)

calls = 0


def call(name, inputs, n_out):
    global calls
    calls += 1
    path = f"{out}/in{calls}.safetensors"
    save_safetensors(path, {f"a{i}": a for i, a in enumerate(inputs)})
    outs = [f"{out}/out{calls}_{j}.npy" for j in range(n_out)]
    run(["dsv3-run", f"{out}/m.so", f"--function={name}"]
        + [f"--input=@{path}:a{i}" for i in range(len(inputs))]
        + [f"--output=@{o}" for o in outs])
    return [np.load(o) for o in outs]


f32 = np.float32
# Softmax scale: raw q·k = [0, 8] with scale 24^-0.5 (nope 16 + rope 8).
# c_kv rows carry markers in columns 1 and 2, so out[1:3] are the weights.
q = np.zeros((1, 1, 1, 16), f32)
q[..., 0] = 1
c = np.zeros((1, 2, 16), f32)
c[0, 0, 1] = 1
c[0, 1, 0], c[0, 1, 2] = 8, 1
(o,) = call("two_keys", [q, np.zeros((1, 1, 1, 8), f32), c, np.zeros((1, 2, 8), f32),
                         np.array([1]), np.array([2])], 1)
w = o[0, 0, 0, 1:3].astype(np.float64)
print("weights", w)
check(np.abs(w - [0.16342074, 0.83657926]).max() < 1e-7,
      "two keys with raw scores [0, 8], scale 24^-0.5: weights [0.16342074, 0.83657926]")

rng = np.random.default_rng(11)
new_c = rng.standard_normal((B, T, C)).astype(f32)
new_k = rng.standard_normal((B, T, R)).astype(f32)
qn = rng.standard_normal((B, T, H, C)).astype(f32)
qpe = rng.standard_normal((B, T, H, R)).astype(f32)
# Unwritten cache rows: garbage in rows about to be written, NaN in rows that
# stay unwritten; neither may reach any output.
cache_c = (rng.standard_normal((B, L, C)) * 1e3).astype(f32)
cache_k = (rng.standard_normal((B, L, R)) * 1e3).astype(f32)
cache_c[:, T:], cache_k[:, T:] = np.nan, np.nan


def run_steps(s):
    c, k, outs = cache_c, cache_k, []
    for p0 in range(0, T, s):
        sl = slice(p0, p0 + s)
        start = np.full(B, p0, np.int64)
        o, c, k = call(f"step{s}", [c, k, new_c[:, sl], new_k[:, sl], qn[:, sl], qpe[:, sl],
                                    start, start + s], 3)
        outs.append(o)
    return np.concatenate(outs, 1), c, k


prefill, pc, pk = run_steps(6)
check(np.array_equal(pc[:, :T], new_c) and np.array_equal(pk[:, :T], new_k)
      and np.isnan(pc[:, T:]).all() and np.isnan(pk[:, T:]).all(),
      "kv_cache_update writes rows [start_pos, start_pos + S) and keeps the rest")
check(np.isfinite(prefill).all(), "NaN in unwritten cache rows does not leak")
ref = attention_ref(qn, qpe, new_c, new_k, np.zeros(B, np.int64), np.full(B, T), SCALE)
err = rel_error(prefill, ref)
print(f"prefill relative error {err:.3e}")
check(err < 1e-5, "prefill matches float64 to 1e-5")
for s, what in ((3, "two chunks"), (1, "token-by-token decode")):
    got, _, _ = run_steps(s)
    err = rel_error(got, prefill)
    print(f"{what} vs prefill relative error {err:.3e}")
    check(err < 1e-6, f"{what} equals one prefill")

# Per-sequence start positions and lengths: sequence 0 at start 0 with no
# valid key (zeros, not NaN), sequence 1 at start 2 of 5 valid rows.
start, kv_len = np.array([0, 2]), np.array([0, 5])
o, c2, k2 = call("step3", [pc, pk, new_c[:, :3], new_k[:, :3], qn[:, :3], qpe[:, :3],
                           start, kv_len], 3)
check(np.array_equal(c2[1, 2:5], new_c[1, :3]) and np.array_equal(c2[0, :3], new_c[0, :3]),
      "kv_cache_update honours per-sequence start_pos")
check(np.array_equal(o[0], np.zeros_like(o[0])), "a query with no visible key gives zeros")
err = rel_error(o, attention_ref(qn[:, :3], qpe[:, :3], c2, k2, start, kv_len, SCALE))
print(f"per-sequence start/len relative error {err:.3e}")
check(err < 1e-5, "per-sequence start_pos/kv_len match float64 to 1e-5")
# A write past the end of the cache (or before its start) is refused by the
# runtime before anything runs: start_pos is an entry input with metadata
# bounds [0, L - S] (dsv3-annotate-input-bounds). Inside the graph such rows
# are masked (test/Conversion/dsv3-lower-to-linalg-attention.mlir).
for bad, row in ((np.array([L - 1, 0]), 0), (np.array([0, -2]), 1)):
    path = f"{out}/bad{row}.safetensors"
    save_safetensors(path, {f"a{i}": a for i, a in enumerate(
        [pc, pk, new_c[:, :3], new_k[:, :3], qn[:, :3], qpe[:, :3], bad, np.array([L, 1])])})
    _, err = run(["dsv3-run", f"{out}/m.so", "--function=step3"]
                 + [f"--input=@{path}:a{i}" for i in range(8)], expect_fail=True)
    check(f"element [{row}] = {bad[row]} is outside [0, {L - 3}]" in err
          and "the call was refused and nothing was written" in err,
          f"start_pos {bad[row]} with 3 new rows in a cache of {L} is refused")

# The log-sum-exp result (what split-KV merges by): per-row logsumexp of the
# visible scaled scores, -inf for a row that sees nothing. Sequence 0 starts
# far past the cache (every key visible; a split-KV tile shifts start_pos
# without wrapping), sequence 1 sees 4 and 5 of its 6 valid keys; the second
# call hides everything from sequence 0, and so does the third with the most
# negative start_pos (nothing may wrap into visibility).
cc = rng.standard_normal((B, L, C)).astype(f32)
kk = rng.standard_normal((B, L, R)).astype(f32)
q2, qp2 = qn[:, :2], qpe[:, :2]
for start, kv_len in ((np.array([2 ** 62, 3]), np.array([L, 6])),
                      (np.array([0, 3]), np.array([0, 6])),
                      (np.array([-2 ** 63, 3]), np.array([L, 6]))):
    o, lse = call("with_lse", [q2, qp2, cc, kk, start, kv_len], 2)
    sc = (np.einsum("bihc,btc->biht", q2.astype(np.float64), cc.astype(np.float64))
          + np.einsum("bihr,btr->biht", qp2.astype(np.float64), kk.astype(np.float64))) * SCALE
    t, i = np.arange(L), np.arange(2)
    vis = (t[None, None, :] <= start[:, None, None] + i[None, :, None]) & (
        t[None, None, :] < kv_len[:, None, None])
    sc = np.where(vis[:, :, None, :], sc, -np.inf)
    mx = sc.max(-1)
    with np.errstate(invalid="ignore"):
        ref_lse = np.where(np.isinf(mx), -np.inf,
                           mx + np.log(np.exp(sc - np.where(np.isinf(mx), 0, mx)[..., None]).sum(-1)))
    finite = np.isfinite(ref_lse)
    check(np.array_equal(np.isfinite(lse), finite) and (lse[~finite] == -np.inf).all(),
          f"lse is -inf exactly for rows without visible keys (start {start.tolist()})")
    err = np.abs(lse[finite] - ref_lse[finite]).max()
    print(f"lse max abs error {err:.3e}")
    check(err < 1e-5, "lse matches float64 to 1e-5")
    err = rel_error(o, attention_ref(q2, qp2, cc, kk, start, kv_len, SCALE))
    check(err < 1e-5, "the output next to lse matches float64 to 1e-5")
