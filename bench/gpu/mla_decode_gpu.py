"""MLA decode on a lent GPU: dsv3's cuda modules next to PyTorch, same data, same run.

Two parts, each at FlashMLA's benchmark shapes (FlashMLA's README: batch 64 and 128,
h_q = 128 heads, s_q = 1, s_k = 4096 cached tokens, bf16 latent cache, d_k 576,
d_v 512, softmax scale 0.1352338):

  A. attention: dsv3.latent_attention alone (the absorbed decode core that
     FlashMLA implements). GB/s and TFLOP/s in FlashMLA's convention,
     bytes = (b*s_k*576 + b*s_q*h_q*(576+512))*2, FLOPs = 2*b*s_q*s_k*h_q*(576+512),
     for the cuda module and for PyTorch (bmm, bf16 scores, fp32 softmax, bf16 P:
     DeepSeek's reference absorbed path); cuda vs PyTorch fp32; cuda vs the host
     module's output computed ahead of time (batch 2).
  B. block: the whole V3 attention block decode step (examples/mla_block/
     graph.mlir.in, FP8 weights, decomposed absorbed) at the same batches with
     4096 cached tokens per sequence: cuda module vs PyTorch (W8A16: weights
     dequantized to bf16 once, bf16 GEMMs); cuda vs host (batch 2, computed
     ahead of time). GB/s counts the weights once (FP8 + scales for dsv3, bf16
     for PyTorch) + the cache rows read (b*(s_k+1)*1152 B); TFLOP/s counts
     2*b*(FP8 weight elements) + the absorbed attention FLOPs above.
     Weights are generated on the device from the seed (190 MB
     does not fit the 64 MiB carry); their sha256 must equal the one recorded
     by `prepare`, else the host comparison is skipped.

Every tensor the modules read is session state (module ABI v2), so a timed
`module.call` moves only start_pos/kv_len to the device and nothing back: it
is the kernels + the runtime's launch and context synchronisation.

Here (LLVM, ptxas; no GPU), from the repository root (build/ is git-ignored):
    mkdir -p build/lib && cp /work/build/lib/libdsv3rt.so build/lib/
    DSV3_BIN=/work/build/bin python3 bench/gpu/mla_decode_gpu.py prepare --out build/mla_decode_gpu
On the GPU machine (run tool, carry = ["build/lib/libdsv3rt.so", "build/mla_decode_gpu"],
~11 MiB; python/dsv3rt.py, examples/ and this script are tracked, dsv3-run is not needed;
python/dsv3rt.py finds build/lib/libdsv3rt.so by itself):
    timeout 500 python3 bench/gpu/mla_decode_gpu.py run --dir build/mla_decode_gpu
Needs numpy and torch (CUDA) there; ml_dtypes only for part B's weights.
Dry run of the whole flow on a CPU (host modules, small shapes, numpy in
place of PyTorch):
    DSV3_BIN=/work/build/bin python3 bench/gpu/mla_decode_gpu.py prepare --out /tmp/d \\
        --target host --batches 2,3 --cache 256
    DSV3_BIN=/work/build/bin python3 bench/gpu/mla_decode_gpu.py run --dir /tmp/d
NOTE: not yet run on a GPU (no device was lent to the session that wrote it).
"""
import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np

root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(root, "python"))
sys.path.insert(0, os.path.join(root, "test", "Integration", "lib"))
import dsv3rt  # noqa: E402

H, C, R, NOPE, V, D = 128, 512, 64, 128, 128, 7168  # V3 (docs/semantics.md §2)
SCALE = 0.1352337747  # 192^-0.5 * (0.1 ln 40 + 1)^2 (docs/semantics.md §9.3)
PFX = "model.layers.0.self_attn."
CHECK_B = 2
SEED = 0


# ---- bf16 as raw uint16 bits, so part A needs no ml_dtypes ----

def bf16_bits(x):
    """float32 array -> bf16 bits (round to nearest even), uint16."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return np.where(nan, np.uint16(0x7FC0), r)


def bits_f32(b):
    return (np.asarray(b, np.uint16).astype(np.uint32) << 16).view(np.float32)


def write_state_bits(session, name, bits, dtype="bf16"):
    """session.write_state for a bf16 state given as uint16 bits."""
    lib = dsv3rt._api()
    bits = np.ascontiguousarray(bits)
    shape = (ctypes.c_int64 * max(bits.ndim, 1))(*bits.shape)
    t = ctypes.c_void_p()
    dsv3rt._check(lib.dsv3rt_tensor_create(dsv3rt.DTYPES.index(dtype), shape, bits.ndim,
                                           bits.ctypes.data_as(ctypes.c_void_p), ctypes.byref(t)))
    try:
        dsv3rt._check(lib.dsv3rt_session_write_state(session._handle(), name.encode(), t))
    finally:
        lib.dsv3rt_tensor_destroy(t)


def read_state_bits(session, name):
    """session.read_state of a 2-byte state, as uint16 bits."""
    lib = dsv3rt._api()
    t = ctypes.c_void_p()
    dsv3rt._check(lib.dsv3rt_session_read_state(session._handle(), name.encode(), ctypes.byref(t)))
    try:
        rank = lib.dsv3rt_tensor_rank(t)
        sp = lib.dsv3rt_tensor_shape(t)
        out = np.empty(tuple(sp[i] for i in range(rank)), np.uint16)
        assert lib.dsv3rt_tensor_byte_size(t) == out.nbytes
        ctypes.memmove(out.ctypes.data, lib.dsv3rt_tensor_data(t), out.nbytes)
        return out
    finally:
        lib.dsv3rt_tensor_destroy(t)


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def tool(name):
    d = os.environ.get("DSV3_BIN")
    return os.path.join(d, name) if d else name


# ---- graphs ----

def attention_graph(b, s_k):
    """Latent attention of one decode step; every tensor is session state."""
    def t(*shape):
        return "tensor<" + "x".join(map(str, shape)) + "xbf16>"
    qn, qp, ck, kp, o = t(b, 1, H, C), t(b, 1, H, R), t(b, s_k, C), t(b, s_k, R), t(b, 1, H, C)
    return f"""func.func @attn(%qn: {qn} {{dsv3.state = "q_nope"}}, %qp: {qp} {{dsv3.state = "q_pe"}},
    %c: {ck} {{dsv3.state = "c_kv"}}, %k: {kp} {{dsv3.state = "k_pe"}},
    %start: tensor<{b}xi32> {{dsv3.name = "start_pos"}}, %len: tensor<{b}xi32> {{dsv3.name = "kv_len"}},
    %out: {o} {{dsv3.state = "out"}}) -> ({o} {{dsv3.state = "out"}}) {{
  %r = dsv3.latent_attention %qn, %qp, %c, %k, %start, %len scale({SCALE})
      : {qn}, {qp}, {ck}, {kp}, tensor<{b}xi32>, tensor<{b}xi32> -> {o}
  return %r : {o}
}}
"""


def block_graph(b, max_seq_len):
    """The decode entry of examples/mla_block/graph.mlir.in at batch b."""
    with open(os.path.join(root, "examples", "mla_block", "graph.mlir.in")) as f:
        text = f.read()
    src = "func.func @" + next(x for x in text.split("func.func @")[1:] if x.startswith("decode("))
    return (src.replace("@L@", str(max_seq_len)).replace("tensor<1x", f"tensor<{b}x")
            .replace("tensor<1xi64>", f"tensor<{b}xi64>"))


def compile_module(src_text, path, target, form=None):
    with open(path + ".mlir", "w") as f:
        f.write(src_text)
    src = path + ".mlir"
    t = time.perf_counter()
    if form:  # decompose dsv3.mla explicitly, as bench/mla_decode.py does
        subprocess.run([tool("dsv3-opt"), src, f"--dsv3-decompose-mla=form={form}",
                        "-o", path + ".dec.mlir"], check=True)
        src = path + ".dec.mlir"
    cmd = [tool("dsv3-compile"), src, f"--target={target}", "-o", path + ".so"]
    if target == "cuda":
        cmd.insert(3, "--cuda-chip=sm_90a")
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        err = [ln for ln in r.stderr.splitlines() if "error:" in ln]
        print(f"  compile {os.path.basename(path)} ({target}) FAILED: {err[0] if err else r.stderr[-400:]}")
        return None, dt
    print(f"  compile {os.path.basename(path)} ({target}): {dt:.1f} s")
    return os.path.basename(path) + ".so", dt


# ---- data (seeded; the same on every machine) ----

def attention_inputs(b, s_k, seed):
    """q_abs (rms ~0.5, as W_UK^T q_nope), rotated q_pe, latent rows (rms 1), k_pe."""
    rng = np.random.default_rng(seed)
    f = {"q_nope": ((b, 1, H, C), 0.5), "q_pe": ((b, 1, H, R), 1.0),
         "c_kv": ((b, s_k, C), 1.0), "k_pe": ((b, s_k, R), 1.0)}
    return {n: bf16_bits(rng.standard_normal(shape, np.float32) * np.float32(sd))
            for n, (shape, sd) in f.items()}


def block_weights(seed):
    """FP8 weights as examples/mla_block/demo.py makes them; needs ml_dtypes."""
    from dsv3_testing import ml_dtypes, quantize_ref
    rng = np.random.default_rng(seed)
    shapes = {"q_a_proj": (1536, D), "q_b_proj": (H * (NOPE + R), 1536),
              "kv_a_proj_with_mqa": (C + R, D), "kv_b_proj": (H * (NOPE + V), C),
              "o_proj": (D, H * V)}
    w = {}
    for name, (n, k) in shapes.items():
        x = rng.standard_normal((n, k), np.float32) * np.float32(k ** -0.5)
        x *= np.exp(rng.uniform(-0.5, 0.5, (n, 1))).astype(np.float32)
        w[PFX + name + ".weight"], w[PFX + name + ".weight_scale_inv"], _ = quantize_ref(x, [128, 128])
    for name, d in {"q_a_layernorm": 1536, "kv_a_layernorm": C}.items():
        w[PFX + name + ".weight"] = (1 + 0.1 * rng.standard_normal(d)).astype(ml_dtypes.bfloat16)
    return w


def block_inputs(b, cached, max_seq_len, seed):
    """Hidden states of the new token and `cached` latent rows per sequence
    (normalised latent, rms 1; k_pe-like rows, rms 1)."""
    rng = np.random.default_rng(seed + 1)
    hidden = bf16_bits(rng.standard_normal((b, 1, D), np.float32))
    c = np.zeros((b, max_seq_len, C), np.uint16)
    k = np.zeros((b, max_seq_len, R), np.uint16)
    for i in range(b):
        c[i, :cached] = bf16_bits(rng.standard_normal((cached, C), np.float32))
        k[i, :cached] = bf16_bits(rng.standard_normal((cached, R), np.float32))
    return hidden, c, k


def save_weights(path, w):
    from dsv3_testing import save_safetensors
    save_safetensors(path, w)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---- prepare (here) ----

def prepare(a):
    os.makedirs(a.out, exist_ok=True)
    batches = [int(x) for x in a.batches.split(",")]
    s_k, L = a.cache, a.cache + 1
    man = {"target": a.target, "batches": batches, "cache": s_k, "seed": SEED,
           "attention": {}, "block": {}, "compile_s": {}}
    print(f"prepare: target {a.target}, batches {batches}, cache {s_k} -> {a.out}")
    # A: latent attention
    for b in sorted(set(batches + [CHECK_B])):
        for tgt in sorted({a.target, "host"} if b == CHECK_B else {a.target}):
            so, dt = compile_module(attention_graph(b, s_k), os.path.join(a.out, f"attn_b{b}.{tgt}"), tgt)
            man["compile_s"][f"attn_b{b}.{tgt}"] = round(dt, 2)
            man["attention"][f"{b}.{tgt}"] = so
    # host output of the check batch, computed here
    ins = attention_inputs(CHECK_B, s_k, SEED)
    s = dsv3rt.Session("host")
    m = s.load(os.path.join(a.out, man["attention"][f"{CHECK_B}.host"]))
    for n, v in ins.items():
        write_state_bits(s, n, v)
        np.save(os.path.join(a.out, f"attn_check_{n}.npy"), v)
    t = time.perf_counter()
    m.call("attn", np.full(CHECK_B, s_k - 1, np.int32), np.full(CHECK_B, s_k, np.int32))
    print(f"  host attention, batch {CHECK_B}: {time.perf_counter() - t:.2f} s")
    np.save(os.path.join(a.out, "attn_check_out.host.npy"), read_state_bits(s, "out"))
    s.close()
    if a.no_block:
        man["block"] = None
    else:
        # B: the whole block
        for b in sorted(set(batches + [CHECK_B])):
            for tgt in sorted({a.target, "host"} if b == CHECK_B else {a.target}):
                so, dt = compile_module(block_graph(b, L), os.path.join(a.out, f"block_b{b}.{tgt}"),
                                        tgt, form="absorbed")
                man["compile_s"][f"block_b{b}.{tgt}"] = round(dt, 2)
                man["block"][f"{b}.{tgt}"] = so
        wpath = os.path.join(a.out, "weights.tmp.safetensors")
        man["weights_sha256"] = save_weights(wpath, block_weights(SEED))
        hidden, c, k = block_inputs(CHECK_B, s_k, L, SEED)
        s = dsv3rt.Session("host")
        m = s.load(os.path.join(a.out, man["block"][f"{CHECK_B}.host"]))
        m.bind([wpath])
        write_state_bits(s, PFX + "kv_cache.c_kv", c)
        write_state_bits(s, PFX + "kv_cache.k_pe", k)
        hid = hidden.view(np.uint16)
        t = time.perf_counter()
        (o,) = m.call("decode", bf16_array(hid), np.full((CHECK_B, 1), s_k, np.int64),
                      np.full(CHECK_B, s_k, np.int64), np.full(CHECK_B, s_k + 1, np.int64))
        print(f"  host block decode, batch {CHECK_B}: {time.perf_counter() - t:.2f} s")
        np.save(os.path.join(a.out, "block_check_out.host.npy"), o.astype(np.float32))
        s.close()
        os.remove(wpath)  # 190 MB: regenerated from the seed where needed
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(man, f, indent=1)
    size = sum(os.path.getsize(os.path.join(a.out, x)) for x in os.listdir(a.out))
    print(f"prepared {a.out}: {size / 2**20:.1f} MiB (carry it with build/bin/dsv3-run and "
          f"build/lib/libdsv3rt.so)")


def bf16_array(bits):
    """uint16 bits -> ml_dtypes bfloat16 array (dsv3rt's bf16 inputs)."""
    import ml_dtypes
    return np.asarray(bits, np.uint16).view(ml_dtypes.bfloat16)


# ---- run (on the GPU machine; host for a dry run) ----

class Ref:
    """PyTorch on the GPU, else numpy (dry run). Attention over one decode step."""

    def __init__(self, device):
        self.torch = None
        if device == "cuda":
            import torch  # required there
            self.torch = torch
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            self.name = f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}"
            self.fast_label = "PyTorch bf16 (DeepSeek)"
        else:
            self.name = "numpy (CPU dry run)"
            self.fast_label = "numpy fp32"

    def tensor(self, bits):
        """uint16 bf16 bits -> torch bf16 on the GPU, or numpy float32."""
        if self.torch is None:
            return bits_f32(bits)
        t = self.torch.from_numpy(np.ascontiguousarray(bits).view(np.int16))
        return t.cuda().view(self.torch.bfloat16)

    def to_f32(self, x):
        return x.float().cpu().numpy() if self.torch is not None else np.asarray(x, np.float32)

    def attention(self, qn, qp, ckv, kpe, fp32):
        """[b,1,H,512], [b,1,H,64], [b,s_k,512], [b,s_k,64] -> [b,1,H,512].
        fp32: scores, softmax and P.V in float32 (accuracy reference); else
        DeepSeek's absorbed path: bf16 scores, fp32 softmax, bf16 P."""
        if self.torch is None:
            q = np.concatenate([qn, qp], -1)[:, 0]
            kv = np.concatenate([ckv, kpe], -1)
            s = np.einsum("bhd,btd->bht", q, kv, optimize=True) * SCALE
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            return np.einsum("bht,btc->bhc", p, ckv, optimize=True)[:, None]
        torch = self.torch
        q = torch.cat([qn, qp], -1)[:, 0]  # [b, H, 576]
        kv = self.kv if getattr(self, "kv_src", None) is ckv else torch.cat([ckv, kpe], -1)
        if fp32:
            s = torch.bmm(q.float(), kv.float().transpose(1, 2)) * SCALE
            return torch.bmm(torch.softmax(s, -1), kv[..., :C].float())[:, None]
        s = torch.bmm(q, kv.transpose(1, 2))  # bf16 out, fp32 accumulation
        p = torch.softmax(s.float() * SCALE, -1).to(torch.bfloat16)
        return torch.bmm(p, kv[..., :C])[:, None]

    def keep_kv(self, ckv, kpe):
        """FlashMLA's layout: one [b, s_k, 576] cache, concatenated once."""
        if self.torch is not None:
            self.kv, self.kv_src = (None, None) if ckv is None else (
                self.torch.cat([ckv, kpe], -1), ckv)

    def time(self, fn, iters):
        """(mean ms, best ms) over iters calls after one warm-up."""
        fn()
        if self.torch is None:
            ts = []
            for _ in range(iters):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
            return 1e3 * float(np.mean(ts)), 1e3 * min(ts)
        torch = self.torch
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(iters)]
        for a, b in ev:
            a.record()
            fn()
            b.record()
        torch.cuda.synchronize()
        ms = [a.elapsed_time(b) for a, b in ev]
        return float(np.mean(ms)), min(ms)


def time_call(fn, iters, budget_s):
    """(mean ms, best ms, calls) of fn() after a warm-up, at most budget_s."""
    fn()
    ts, t_end = [], time.perf_counter() + budget_s
    while len(ts) < iters and (not ts or time.perf_counter() < t_end):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1e3 * float(np.mean(ts)), 1e3 * min(ts), len(ts)


def run(a):
    with open(os.path.join(a.dir, "manifest.json")) as f:
        man = json.load(f)
    device = a.device or man["target"]
    assert device == man["target"], f"{a.dir} holds {man['target']} modules, not {device}"
    s_k = man["cache"]
    ref = Ref(device)
    print(f"{device}; reference: {ref.name}; cache {s_k} tokens, s_q 1, {H} heads, d_k 576, d_v 512")
    start = lambda b: np.full(b, s_k - 1, np.int32)  # noqa: E731  the query at position s_k-1
    kvlen = lambda b: np.full(b, s_k, np.int32)  # noqa: E731     sees all s_k rows

    # ---- A: latent attention ----
    print(f"\nA. latent attention (dsv3.latent_attention; FlashMLA convention)\n"
          f"{'batch':>5s} {'impl':24s} {'mean ms':>8s} {'best ms':>8s} {'GB/s':>7s} {'TFLOP/s':>8s} "
          f"{'rel err vs fp32':>15s}")
    for b in man["batches"]:
        so = man["attention"].get(f"{b}.{device}")
        if not so:
            print(f"{b:5d} no module (compile failed in prepare)")
            continue
        nbytes = (b * s_k * 576 + b * H * (576 + 512)) * 2
        flops = 2 * b * s_k * H * (576 + 512)
        ins = attention_inputs(b, s_k, SEED + b)
        s = dsv3rt.Session(device)
        m = s.load(os.path.join(a.dir, so))
        for n, v in ins.items():
            write_state_bits(s, n, v)
        st, ln = start(b), kvlen(b)
        mean, best, n = time_call(lambda: m.call("attn", st, ln), a.iters, a.budget)
        got = bits_f32(read_state_bits(s, "out"))
        s.close()
        t = {n_: ref.tensor(v) for n_, v in ins.items()}
        ref.keep_kv(t["c_kv"], t["k_pe"])
        exact = ref.to_f32(ref.attention(t["q_nope"], t["q_pe"], t["c_kv"], t["k_pe"], True))
        fast = ref.to_f32(ref.attention(t["q_nope"], t["q_pe"], t["c_kv"], t["k_pe"], False))
        tm, tb = ref.time(lambda: ref.attention(t["q_nope"], t["q_pe"], t["c_kv"], t["k_pe"], False),
                          a.iters)
        for impl, mn, bs, out in ((f"dsv3 {device} ({n} calls)", mean, best, got),
                                  (ref.fast_label, tm, tb, fast)):
            print(f"{b:5d} {impl:24s} {mn:8.3f} {bs:8.3f} {nbytes / bs / 1e6:7.1f} "
                  f"{flops / bs / 1e9:8.2f} {rel(out, exact):15.2e}")
        del t, exact, fast
        ref.keep_kv(None, None)
    so = man["attention"].get(f"{CHECK_B}.{device}")
    if so:
        s = dsv3rt.Session(device)
        m = s.load(os.path.join(a.dir, so))
        for n in ("q_nope", "q_pe", "c_kv", "k_pe"):
            write_state_bits(s, n, np.load(os.path.join(a.dir, f"attn_check_{n}.npy")))
        m.call("attn", start(CHECK_B), kvlen(CHECK_B))
        got = bits_f32(read_state_bits(s, "out"))
        host = bits_f32(np.load(os.path.join(a.dir, "attn_check_out.host.npy")))
        s.close()
        print(f"batch {CHECK_B}: {device} output vs host output (computed in prepare): relative "
              f"{rel(got, host):.2e}, max abs {np.abs(got - host).max():.3g}")

    # ---- B: the whole attention block ----
    if not man.get("block") or a.no_block:
        return
    try:
        import ml_dtypes  # noqa: F401
    except ImportError:
        print("\nB. block: skipped (needs ml_dtypes to make the FP8 weights)")
        return
    print(f"\nB. V3 attention block decode step (FP8 weights, absorbed, {s_k} cached tokens)")
    t0 = time.perf_counter()
    weights = block_weights(SEED)
    wpath = os.path.join(a.dir, "weights.tmp.safetensors")
    sha = save_weights(wpath, weights)
    same_w = sha == man.get("weights_sha256")
    print(f"  weights from seed {SEED}: {time.perf_counter() - t0:.1f} s, sha256 "
          f"{'matches' if same_w else 'DIFFERS FROM'} prepare's")
    L = s_k + 1
    wbytes = sum(v.nbytes for v in weights.values())
    print(f"{'batch':>5s} {'impl':24s} {'mean ms':>8s} {'best ms':>8s} {'GB/s':>7s} {'TFLOP/s':>8s} "
          f"{'rel diff vs ref':>15s}")
    try:
        for b in [x for x in man["batches"] if x != CHECK_B] + [CHECK_B]:
            so = man["block"].get(f"{b}.{device}")
            if not so:
                print(f"{b:5d} no module (compile failed in prepare)")
                continue
            hidden, c, k = block_inputs(b, s_k, L, SEED)
            s = dsv3rt.Session(device)
            m = s.load(os.path.join(a.dir, so))
            m.bind([wpath])
            write_state_bits(s, PFX + "kv_cache.c_kv", c)
            write_state_bits(s, PFX + "kv_cache.k_pe", k)
            hid = bf16_array(hidden)
            pos = (np.full((b, 1), s_k, np.int64), np.full(b, s_k, np.int64),
                   np.full(b, s_k + 1, np.int64))
            # each call rewrites row s_k with the same values: repeatable
            mean, best, n = time_call(lambda: m.call("decode", hid, *pos), a.iters, a.budget)
            (o,) = m.call("decode", hid, *pos)
            got = o.astype(np.float32)
            s.close()
            if b == CHECK_B:
                if same_w:
                    host = np.load(os.path.join(a.dir, "block_check_out.host.npy"))
                    print(f"batch {CHECK_B}: {device} block output vs host output (computed in "
                          f"prepare): relative {rel(got, host):.2e}")
                else:
                    print(f"batch {CHECK_B}: no host comparison (the weights made here differ "
                          f"from prepare's: numpy's generator or ml_dtypes differ)")
                continue
            # bytes: FP8 weights + scales + norms once, the cache rows read
            # (b x (s_k+1) x 1152 B); FLOPs: projections + absorbed attention
            nbytes = wbytes + b * (s_k + 1) * 576 * 2
            fp8 = sum(v.size for n_, v in weights.items() if n_.endswith("proj.weight")
                      or n_.endswith("mqa.weight"))
            flops = 2 * b * fp8 + 2 * b * (s_k + 1) * H * (576 + 512)
            print(f"{b:5d} {'dsv3 ' + device + f' ({n} calls)':24s} {mean:8.2f} {best:8.2f} "
                  f"{nbytes / best / 1e6:7.1f} {flops / best / 1e9:8.2f} "
                  + (block_vs_torch(ref, weights, hidden, c, k, s_k, got, a.iters)
                     if ref.torch is not None else f"{'(no torch)':>15s}"))
    finally:
        os.remove(wpath)


def block_vs_torch(ref, weights, hidden, c, k, s_k, got, iters):
    """The same decode step in PyTorch (W8A16: weights dequantized to bf16
    once, bf16 activations and GEMMs, fp32 norms/softmax, YaRN rope in fp32,
    interleaved layout); returns the rest of the table row and prints the
    PyTorch row below it."""
    torch = ref.torch
    bf = torch.bfloat16

    def deq(name):
        q = torch.from_numpy(weights[PFX + name + ".weight"].view(np.uint8).copy()).cuda()
        q = q.view(torch.float8_e4m3fn).float()
        s = torch.from_numpy(weights[PFX + name + ".weight_scale_inv"]).cuda()
        s = s.repeat_interleave(128, 0).repeat_interleave(128, 1)[: q.shape[0], : q.shape[1]]
        return (q * s).to(bf)

    W = {n: deq(n) for n in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj")}
    nq = torch.from_numpy(bits_f32(weights[PFX + "q_a_layernorm.weight"].view(np.uint16))).cuda()
    nkv = torch.from_numpy(bits_f32(weights[PFX + "kv_a_layernorm.weight"].view(np.uint16))).cuda()
    b = hidden.shape[0]
    x = ref.tensor(hidden)[:, 0]  # [b, 7168] bf16
    kv_cache = torch.cat([ref.tensor(c), ref.tensor(k)], -1)  # [b, L, 576]
    # YaRN frequencies (docs/semantics.md §9.1), angle in fp32 at position s_k
    import math
    d = R
    f = 10000.0 ** (-np.arange(0, d, 2) / d)
    corr = lambda r_: d * math.log(4096 / (2 * math.pi * r_)) / (2 * math.log(10000.0))  # noqa
    lo, hi = max(math.floor(corr(32)), 0), min(math.ceil(corr(1)), d - 1)
    ramp = np.clip((np.arange(d // 2) - lo) / (hi - lo), 0, 1)
    fr = torch.tensor(f * ((1 - ramp) + ramp / 40.0), dtype=torch.float32, device="cuda")
    ang = torch.tensor(float(s_k), device="cuda") * fr
    cos, sin = torch.cos(ang), torch.sin(ang)

    def rope(v):  # interleaved pairs
        v = v.float()
        a_, b_ = v[..., 0::2], v[..., 1::2]
        return torch.stack([a_ * cos - b_ * sin, a_ * sin + b_ * cos], -1).flatten(-2).to(bf)

    def rms(v, w):
        v = v.float()
        return (v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-6) * w).to(bf)

    wkvb = W["kv_b_proj"].view(H, NOPE + V, C)

    def step():
        q = (rms(x @ W["q_a_proj"].T, nq) @ W["q_b_proj"].T).view(b, H, NOPE + R)
        kv = x @ W["kv_a_proj_with_mqa"].T
        kv_cache[:, s_k] = torch.cat([rms(kv[:, :C], nkv), rope(kv[:, C:])], -1)
        q_abs = torch.einsum("bhd,hdc->bhc", q[..., :NOPE], wkvb[:, :NOPE])
        qq = torch.cat([q_abs, rope(q[..., NOPE:])], -1)
        s = torch.bmm(qq, kv_cache[:, : s_k + 1].transpose(1, 2))
        p = torch.softmax(s.float() * SCALE, -1).to(bf)
        lat = torch.bmm(p, kv_cache[:, : s_k + 1, :C])
        o = torch.einsum("bhc,hvc->bhv", lat, wkvb[:, NOPE:]).reshape(b, H * V)
        return o @ W["o_proj"].T

    out = ref.to_f32(step())
    mean, best = ref.time(step, iters)
    wb = sum(v.numel() * 2 for v in W.values())  # bf16 weights read
    nbytes = wb + b * (s_k + 1) * 576 * 2
    fp8 = sum(v.numel() for v in W.values())
    flops = 2 * b * fp8 + 2 * b * (s_k + 1) * H * (576 + 512)
    diff = rel(got, out)
    print(f"{b:5d} {'PyTorch W8A16 bf16':24s} {mean:8.2f} {best:8.2f} {nbytes / best / 1e6:7.1f} "
          f"{flops / best / 1e9:8.2f} {'(reference)':>15s}")
    del W, kv_cache
    torch.cuda.empty_cache()
    return f"{diff:15.2e}"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="compile modules and host references (here)")
    pp.add_argument("--out", required=True)
    pp.add_argument("--target", default="cuda", choices=["cuda", "host"])
    pp.add_argument("--batches", default="64,128")
    pp.add_argument("--cache", type=int, default=4096)
    pp.add_argument("--no-block", action="store_true", help="part A only")
    pr = sub.add_parser("run", help="measure (on the GPU machine)")
    pr.add_argument("--dir", required=True)
    pr.add_argument("--device", default="", help="default: the target prepared")
    pr.add_argument("--iters", type=int, default=20)
    pr.add_argument("--budget", type=float, default=20.0, help="seconds of timed calls per case")
    pr.add_argument("--no-block", action="store_true")
    a = p.parse_args()
    prepare(a) if a.cmd == "prepare" else run(a)


if __name__ == "__main__":
    main()
