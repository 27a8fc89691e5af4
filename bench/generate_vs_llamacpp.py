"""dsv3 (host) against llama.cpp on the same DeepSeek-V3-architecture model:
prefill and decode tokens/s, alternating the engines in one process, and
whether their greedy tokens agree.

  /work/benchenv/bin/python bench/generate_vs_llamacpp.py --dir /work/v3s [--experts 32] \\
      [--bin build/bin] [--runs 2] [--prompt-tokens 64] [--decode-tokens 16] [--json out.json]

Needs a Python with numpy, ml_dtypes, llama-cpp-python and the `gguf` package
(llama.cpp's gguf-py), e.g. a venv made with
  python3 -m venv /work/benchenv
  CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON" /work/benchenv/bin/pip install llama-cpp-python gguf ml_dtypes
(the gguf package should be the one vendored by that llama-cpp-python: its
sdist has vendor/llama.cpp/gguf-py).

The model: bench/make_v3_checkpoint.py's checkpoint in --dir (made if missing;
--layers/--dense-layers/--experts as there, default 4 layers = 3 dense + 1 MoE
of 32 routed experts: V3's full hidden size, vocabulary, attention and expert
shapes, but a MoE layer small enough that dsv3's checkpoint and the GGUF both
stay in the page cache of a 24 GB machine).

The GGUF (--gguf, default DIR/model-q8_0.gguf, written if missing) is made here
as llama.cpp's convert_hf_to_gguf.py (DeepseekV2Model, --outtype q8_0) would:
architecture "deepseek2", FP8 weights dequantized (x * weight_scale_inv per
128x128 block) to f32 and quantized to Q8_0 (gguf.quants, bit-exact with
ggml's), token_embd and output too; norms, router weight (ffn_gate_inp) and
e_score_correction_bias (exp_probs_b.bias) f32; kv_b_proj split into
attn_k_b (transposed) and attn_v_b; routed experts stacked into
ffn_{gate,up,down}_exps; MLA dims as the converter writes them (head_count_kv 1,
key_length kv_lora_rank + rope, value_length kv_lora_rank, key/value_length_mla);
YaRN with yarn_log_mul 0.1 * mscale_all_dim; expert groups (n_group,
topk_group), sigmoid gating, weights norm and scale 2.5. No tokenizer:
tokenizer.ggml.model "none" with vocab_size (llama.cpp then makes dummy
tokens); both engines are fed token ids. Written tensor by tensor (the whole
model is never in memory).

--lm-head fp8 imports dsv3's model with --quantize-lm-head (lm_head read as
block FP8 that the runtime quantizes from the bf16 checkpoint at bind time, as
llama.cpp's GGUF holds it in Q8_0); --lm-head both binds both modules and
alternates them with llama.cpp in the same run ("dsv3" is then the bf16 head,
"dsv3 fp8-head" the other).

Measured, --runs times, alternating dsv3 / llama.cpp at each thread count
(--threads, default 1,2, for both engines: dsv3's session threads and
llama.cpp's n_threads): a prefill of
--prompt-tokens seeded random ids (one call: dsv3's prefill entry, llama.cpp
one batch), then --decode-tokens greedy decode steps, each engine feeding back
its own argmax. Reported: wall time and process CPU time, tokens/s, the ratio
dsv3 / llama.cpp, and agreement: the argmax after the prompt, the number of
leading greedy tokens that match, and the cosine similarity and top-10 overlap
of the two engines' logits after the prompt (they differ by Q8_0 vs FP8 weights
and by bf16 vs f32 activations, so exact agreement is not expected).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

try:
    import ml_dtypes
    import gguf
    from gguf import GGMLQuantizationType as QT
except ImportError as e:
    sys.exit(f"generate_vs_llamacpp.py: {e}: run with a Python that has numpy, ml_dtypes, "
             "gguf and llama-cpp-python (see the top of this file)")


# ---------------------------------------------------------------- safetensors

class Checkpoint:
    def __init__(self, d):
        with open(os.path.join(d, "model.safetensors.index.json")) as f:
            wm = json.load(f)["weight_map"]
        self.tensors = {}
        self.maps = {}
        for fn in sorted(set(wm.values())):
            path = os.path.join(d, fn)
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            mm = np.memmap(path, np.uint8, "r")
            self.maps[fn] = mm
            base = 8 + n
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                b, e = info["data_offsets"]
                self.tensors[name] = (mm, base + b, base + e, info["dtype"], info["shape"])

    def raw(self, name):
        mm, b, e, dt, shape = self.tensors[name]
        np_dt = {"F8_E4M3": np.uint8, "BF16": np.uint16, "F32": np.float32}[dt]
        return mm[b:e].view(np_dt).reshape(shape), dt

    def f32(self, name):
        a, dt = self.raw(name)
        if dt == "BF16":
            return (a.astype(np.uint32) << 16).view(np.float32)
        if dt == "F32":
            return np.asarray(a, np.float32)
        raise ValueError(f"{name}: {dt} needs dequantization")


FP8_LUT = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float32)
FP8_LUT[np.isnan(FP8_LUT)] = 0


def dequant_rows(ck, name, r0, r1):
    """Rows [r0, r1) of an FP8 weight as f32 (r0 a multiple of 128)."""
    w, _ = ck.raw(name + ".weight")
    s = ck.f32(name + ".weight_scale_inv")
    x = FP8_LUT[np.asarray(w[r0:r1])]
    sb = np.repeat(np.repeat(s[r0 // 128:-(-r1 // 128)], 128, axis=0), 128, axis=1)
    return x * sb[: r1 - r0, : x.shape[1]]


# ---------------------------------------------------------------- GGUF

def q8_nbytes(shape):
    n = int(np.prod(shape))
    assert shape[-1] % 32 == 0, shape
    return n // 32 * 34


class Source:
    """One GGUF tensor: numpy shape, type, and a generator of byte chunks."""

    def __init__(self, name, shape, qtype, chunks):
        self.name, self.shape, self.qtype, self.chunks = name, list(shape), qtype, chunks

    @property
    def nbytes(self):
        if self.qtype == QT.Q8_0:
            return q8_nbytes(self.shape)
        return int(np.prod(self.shape)) * 4


def q8(x):
    return gguf.quants.quantize(np.ascontiguousarray(x, np.float32), QT.Q8_0).tobytes()


def gguf_sources(ck, cfg):
    D, V = cfg["hidden_size"], cfg["vocab_size"]
    H, C = cfg["num_attention_heads"], cfg["kv_lora_rank"]
    NOPE, VD = cfg["qk_nope_head_dim"], cfg["v_head_dim"]
    E = cfg["n_routed_experts"]
    out = []

    def f32(gname, hname):
        out.append(Source(gname, ck.tensors[hname][4], QT.F32,
                          lambda h=hname: iter([ck.f32(h).tobytes()])))

    def bf16_q8(gname, hname, rows=8192):
        shape = ck.tensors[hname][4]

        def gen():
            a, _ = ck.raw(hname)
            for r in range(0, shape[0], rows):
                yield q8((np.asarray(a[r:r + rows]).astype(np.uint32) << 16).view(np.float32))
        out.append(Source(gname, shape, QT.Q8_0, gen))

    def fp8_q8(gname, hname, rows=1024):
        shape = ck.tensors[hname + ".weight"][4]

        def gen():
            for r in range(0, shape[0], rows):
                yield q8(dequant_rows(ck, hname, r, min(r + rows, shape[0])))
        out.append(Source(gname, shape, QT.Q8_0, gen))

    bf16_q8("token_embd.weight", "model.embed_tokens.weight")
    f32("output_norm.weight", "model.norm.weight")
    bf16_q8("output.weight", "lm_head.weight")
    for l in range(cfg["num_hidden_layers"]):
        p, b = f"model.layers.{l}.", f"blk.{l}."
        f32(b + "attn_norm.weight", p + "input_layernorm.weight")
        f32(b + "ffn_norm.weight", p + "post_attention_layernorm.weight")
        f32(b + "attn_q_a_norm.weight", p + "self_attn.q_a_layernorm.weight")
        f32(b + "attn_kv_a_norm.weight", p + "self_attn.kv_a_layernorm.weight")
        fp8_q8(b + "attn_q_a.weight", p + "self_attn.q_a_proj")
        fp8_q8(b + "attn_q_b.weight", p + "self_attn.q_b_proj")
        fp8_q8(b + "attn_kv_a_mqa.weight", p + "self_attn.kv_a_proj_with_mqa")
        fp8_q8(b + "attn_output.weight", p + "self_attn.o_proj")
        kvb = p + "self_attn.kv_b_proj"
        n_kvb = H * (NOPE + VD)

        def k_b(kvb=kvb, n=n_kvb):
            kv = dequant_rows(ck, kvb, 0, n).reshape(H, NOPE + VD, C)
            yield q8(kv[:, :NOPE, :].transpose(0, 2, 1))  # [H, C, NOPE]

        def v_b(kvb=kvb, n=n_kvb):
            kv = dequant_rows(ck, kvb, 0, n).reshape(H, NOPE + VD, C)
            yield q8(kv[:, NOPE:, :])  # [H, V, C]
        out.append(Source(b + "attn_k_b.weight", [H, C, NOPE], QT.Q8_0, k_b))
        out.append(Source(b + "attn_v_b.weight", [H, VD, C], QT.Q8_0, v_b))
        if p + "mlp.gate.weight" not in ck.tensors:
            for g, h in (("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj")):
                fp8_q8(f"{b}{g}.weight", p + "mlp." + h)
            continue
        f32(b + "ffn_gate_inp.weight", p + "mlp.gate.weight")
        f32(b + "exp_probs_b.bias", p + "mlp.gate.e_score_correction_bias")
        for g, h in (("ffn_gate", "gate_proj"), ("ffn_up", "up_proj"), ("ffn_down", "down_proj")):
            fp8_q8(f"{b}{g}_shexp.weight", p + "mlp.shared_experts." + h)
            one = ck.tensors[f"{p}mlp.experts.0.{h}.weight"][4]

            def exps(h=h, one=one, p=p):
                for e in range(E):
                    yield q8(dequant_rows(ck, f"{p}mlp.experts.{e}.{h}", 0, one[0]))
            out.append(Source(f"{b}{g}_exps.weight", [E] + one, QT.Q8_0, exps))
    return out


def write_gguf(path, ck, cfg):
    rs = cfg["rope_scaling"]
    w = gguf.GGUFWriter(path + ".tmp", "deepseek2")
    w.add_name("dsv3 bench random V3")
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(1)  # MLA as MQA, as convert_hf_to_gguf.py writes it
    w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
    w.add_rope_scaling_factor(rs["factor"])
    w.add_rope_scaling_orig_ctx_len(rs["original_max_position_embeddings"])
    w.add_rope_scaling_yarn_beta_fast(rs["beta_fast"])
    w.add_rope_scaling_yarn_beta_slow(rs["beta_slow"])
    w.add_rope_freq_base(cfg["rope_theta"])
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_expert_count(cfg["n_routed_experts"])
    w.add_expert_used_count(cfg["num_experts_per_tok"])
    w.add_expert_group_count(cfg["n_group"])
    w.add_expert_group_used_count(cfg["topk_group"])
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    # DeepseekV2Model.set_gguf_parameters
    w.add_leading_dense_block_count(cfg["first_k_dense_replace"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_q_lora_rank(cfg["q_lora_rank"])
    w.add_kv_lora_rank(cfg["kv_lora_rank"])
    w.add_key_length(cfg["kv_lora_rank"] + cfg["qk_rope_head_dim"])
    w.add_value_length(cfg["kv_lora_rank"])
    w.add_key_length_mla(cfg["qk_nope_head_dim"] + cfg["qk_rope_head_dim"])
    w.add_value_length_mla(cfg["v_head_dim"])
    w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    w.add_expert_shared_count(cfg["n_shared_experts"])
    w.add_expert_weights_scale(cfg["routed_scaling_factor"])
    w.add_expert_weights_norm(bool(cfg["norm_topk_prob"]))
    w.add_rope_dimension_count(cfg["qk_rope_head_dim"])
    w.add_rope_scaling_yarn_log_mul(0.1 * rs.get("mscale_all_dim", 1.0))
    w.add_tokenizer_model("none")

    srcs = gguf_sources(ck, cfg)
    for s in srcs:
        if s.qtype == QT.Q8_0:
            byte_shape = s.shape[:-1] + [s.shape[-1] // 32 * 34]
            w.add_tensor_info(s.name, byte_shape, np.dtype(np.uint8), s.nbytes, raw_dtype=QT.Q8_0)
        else:
            w.add_tensor_info(s.name, s.shape, np.dtype(np.float32), s.nbytes)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    f = w.fout[0]
    align = w.data_alignment
    f.write(b"\0" * (-f.tell() % align))
    total = sum(s.nbytes for s in srcs)
    done, t0 = 0, time.time()
    for s in srcs:
        n = 0
        for chunk in s.chunks():
            f.write(chunk)
            n += len(chunk)
        if n != s.nbytes:
            raise AssertionError(f"{s.name}: wrote {n} bytes, expected {s.nbytes}")
        f.write(b"\0" * (-n % align))
        done += n
        print(f"  {s.name:34s} {gguf.GGMLQuantizationType(s.qtype).name:5s} {s.shape}  "
              f"[{done / 1e9:.2f}/{total / 1e9:.2f} GB, {time.time() - t0:.0f} s]", flush=True)
    w.close()
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------- engines

def rss():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) * 1024
    return out


class Dsv3:
    def __init__(self, so, ckdir, bindir, pydir):
        os.environ["DSV3RT_LIBRARY"] = os.path.normpath(os.path.join(bindir, "..", "lib", "libdsv3rt.so"))
        sys.path.insert(0, pydir)
        import dsv3rt
        self.s = dsv3rt.Session("host")
        self.m = self.s.load(so)
        t0 = time.perf_counter()
        self.m.bind(ckdir)
        self.bind_s = time.perf_counter() - t0

    def threads(self, n):
        self.s.threads = n

    def prefill(self, ids):
        P = len(ids)
        (lg,) = self.m.call("prefill", np.array([ids], np.int64),
                            np.arange(P, dtype=np.int64)[None, :],
                            np.array([0], np.int64), np.array([P], np.int64))
        return np.asarray(lg, np.float32).reshape(-1)

    def decode(self, tok, pos):
        (lg,) = self.m.call("decode", np.array([[tok]], np.int64), np.array([[pos]], np.int64),
                            np.array([pos], np.int64), np.array([pos + 1], np.int64))
        return np.asarray(lg, np.float32).reshape(-1)


class LlamaCpp:
    def __init__(self, path, n_ctx, n_batch, vocab):
        import llama_cpp
        import llama_cpp.llama_cpp as raw
        self.lc = llama_cpp
        # Plain ggml CPU buffers, no "extra" buffer types (AMX, repacked
        # Q8_0): on a CPU with AMX, llama-cpp-python 0.3.36 puts the Q8_0
        # weights in its AMX buffer, and then the scheduler aborts on
        # deepseek2's graph (GGML_ASSERT(*cur_backend_id != -1) in
        # ggml-backend.cpp). Where they load, repacked weights would also
        # not be the mmap-ed file that dsv3 reads.
        default_params = raw.llama_model_default_params

        def model_params():
            p = default_params()
            p.use_extra_bufts = False
            return p
        if not any(f[0] == "use_extra_bufts" for f in raw.llama_model_params._fields_):
            print("note: this llama-cpp-python has no use_extra_bufts; llama.cpp keeps its "
                  "default buffer types", file=sys.stderr)
        raw.llama_model_default_params = model_params
        t0 = time.perf_counter()
        try:
            self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_batch=n_batch,
                                       n_ubatch=n_batch, n_threads=1, n_threads_batch=1,
                                       use_mmap=True, verbose=False)
        finally:
            raw.llama_model_default_params = default_params
        self.load_s = time.perf_counter() - t0
        self.vocab = vocab
        if self.llm.n_vocab() != vocab:
            raise RuntimeError(f"llama.cpp sees {self.llm.n_vocab()} tokens, expected {vocab}")

    def threads(self, n):
        self.lc.llama_set_n_threads(self.llm.ctx, n, n)

    def _logits(self):
        ptr = self.lc.llama_get_logits_ith(self.llm.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.vocab,)).copy()

    def prefill(self, ids):
        self.llm.reset()
        self.llm.eval(list(ids))
        return self._logits()

    def decode(self, tok, pos):
        assert self.llm.n_tokens == pos
        self.llm.eval([tok])
        return self._logits()


def run_once(engine, prompt, n_decode):
    t0, c0 = time.perf_counter(), time.process_time()
    lg = engine.prefill(prompt)
    pre = (time.perf_counter() - t0, time.process_time() - c0)
    first_logits = lg
    toks, steps = [int(np.argmax(lg))], []
    for i in range(n_decode):
        t0, c0 = time.perf_counter(), time.process_time()
        lg = engine.decode(toks[-1], len(prompt) + i)
        steps.append((time.perf_counter() - t0, time.process_time() - c0))
        toks.append(int(np.argmax(lg)))
    return {"prefill_s": pre[0], "prefill_cpu_s": pre[1], "decode_s": [s[0] for s in steps],
            "decode_cpu_s": [s[1] for s in steps], "tokens": toks}, first_logits


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="/work/v3s", help="checkpoint (made if missing)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dense-layers", type=int, default=3)
    p.add_argument("--experts", type=int, default=32)
    p.add_argument("--gguf", default="", help="GGUF path (default DIR/model-q8_0.gguf; made if missing)")
    p.add_argument("--bin", default=os.environ.get("DSV3_BIN") or os.path.join(ROOT, "build", "bin"))
    p.add_argument("--python", default=os.path.join(ROOT, "python"),
                   help="directory of the dsv3rt.py that matches --bin's libdsv3rt (default python/)")
    p.add_argument("--work", default="", help="graph.mlir / model.so (default DIR/bench-vs-llamacpp)")
    p.add_argument("--moe-alignment", default="import",
                   help="alignment(N) for dsv3.moe, or 'import' (see bench/real_scale.py)")
    p.add_argument("--compile-args", default="",
                   help="extra dsv3-compile arguments, e.g. --march=x86-64-v4 (AVX-512 kernels)")
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--decode-tokens", type=int, default=16)
    p.add_argument("--threads", default="1,2", help="thread counts (both engines)")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lm-head", choices=("bf16", "fp8", "both"), default="bf16",
                   help="dsv3's lm_head: the checkpoint's bf16 (default), block FP8 quantized "
                        "at bind time (dsv3-import --quantize-lm-head), or both modules "
                        "alternated in the same run")
    p.add_argument("--convert-only", action="store_true")
    p.add_argument("--json", default="")
    a = p.parse_args()
    bindir = os.path.abspath(a.bin)

    if not os.path.exists(os.path.join(a.dir, "config.json")):
        print(f"no checkpoint in {a.dir}: making one", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_v3_checkpoint.py"),
                        "--dir", a.dir, "--layers", str(a.layers), "--dense-layers",
                        str(a.dense_layers), "--experts", str(a.experts), "--seed", str(a.seed)],
                       check=True)
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = json.load(f)
    V = cfg["vocab_size"]
    ggufp = a.gguf or os.path.join(a.dir, "model-q8_0.gguf")
    res = {"dir": a.dir, "gguf": ggufp, "layers": cfg["num_hidden_layers"],
           "dense_layers": cfg["first_k_dense_replace"], "experts": cfg["n_routed_experts"],
           "prompt_tokens": a.prompt_tokens, "decode_tokens": a.decode_tokens, "runs": a.runs,
           "moe_alignment": a.moe_alignment}
    if not os.path.exists(ggufp):
        print(f"writing {ggufp}", flush=True)
        t0 = time.time()
        write_gguf(ggufp, Checkpoint(a.dir), cfg)
        res["convert_s"] = time.time() - t0
    res["gguf_bytes"] = os.path.getsize(ggufp)
    if a.convert_only:
        return
    try:
        import llama_cpp  # noqa: F401
    except ImportError as e:
        sys.exit(f"generate_vs_llamacpp.py: {e}: install llama-cpp-python (see the top of this file)")

    work = a.work or os.path.join(a.dir, "bench-vs-llamacpp")
    os.makedirs(work, exist_ok=True)
    heads = ["bf16", "fp8"] if a.lm_head == "both" else [a.lm_head]
    res["lm_head"] = heads

    def build(head):
        stem = "graph" if head == "bf16" else "graph-fp8-head"
        mlir, so = os.path.join(work, stem + ".mlir"), os.path.join(work, stem + ".so")
        subprocess.run([os.path.join(bindir, "dsv3-import"), a.dir, "-o", mlir,
                        f"--prefill-tokens={a.prompt_tokens}", "--max-seq-len=4096"]
                       + (["--quantize-lm-head"] if head == "fp8" else []), check=True)
        if a.moe_alignment != "import":
            import re
            with open(mlir) as f:
                text = f.read()
            text = re.sub(r"(dsv3\.moe [^\n]*?weight_type\([^)]*\))(?: alignment\(\d+\))?",
                          rf"\1 alignment({int(a.moe_alignment)})", text)
            with open(mlir, "w") as f:
                f.write(text)
        subprocess.run([os.path.join(bindir, "dsv3-compile"), mlir, "--target=host", "-o", so]
                       + a.compile_args.split(), check=True)
        return so

    rng = np.random.default_rng(a.seed)
    prompt = [int(t) for t in rng.integers(0, V, size=a.prompt_tokens)]
    # "dsv3" is the first head asked for; with --lm-head both, "dsv3 fp8-head"
    # is the second module, bound in the same process.
    engines = {}
    for head in heads:
        key = "dsv3" if head == heads[0] else "dsv3 fp8-head"
        engines[key] = Dsv3(build(head), a.dir, bindir, os.path.abspath(a.python))
        res[("dsv3_bind_s" if key == "dsv3" else "dsv3_fp8_head_bind_s")] = engines[key].bind_s
    res["rss_after_dsv3_bind"] = rss()
    import llama_cpp
    res["llama_cpp_version"] = getattr(llama_cpp, "__version__", "?")
    res["llama_cpp_system_info"] = llama_cpp.llama_print_system_info().decode()
    l = LlamaCpp(ggufp, n_ctx=max(256, a.prompt_tokens + a.decode_tokens + 8),
                 n_batch=a.prompt_tokens, vocab=V)
    res["llama_load_s"] = l.load_s
    res["rss_after_llama_load"] = rss()
    threads = [int(t) for t in a.threads.split(",")]
    engines["llama.cpp"] = l
    names = [f"{e} t={t}" for t in threads for e in engines]
    runs = {n: [] for n in names}
    logits0 = {}
    for r in range(a.runs):
        for n in names:
            eng = engines[n.rsplit(" t=", 1)[0]]
            eng.threads(int(n.split("=")[1]))
            out, lg = run_once(eng, prompt, a.decode_tokens)
            runs[n].append(out)
            logits0.setdefault(n, lg)
            print(f"run {r} {n:16s} prefill {out['prefill_s']:7.2f} s   decode median "
                  f"{1e3 * np.median(out['decode_s']):7.0f} ms/token", flush=True)
    res["rss_end"] = rss()

    summary = {}
    for n in names:
        pre = min(x["prefill_s"] for x in runs[n])
        pre_cpu = min(x["prefill_cpu_s"] for x in runs[n])
        dec = float(np.median([t for x in runs[n] for t in x["decode_s"]]))
        dec_cpu = float(np.median([t for x in runs[n] for t in x["decode_cpu_s"]]))
        summary[n] = {"prefill_s": pre, "prefill_tok_s": a.prompt_tokens / pre,
                      "prefill_cpu_s": pre_cpu, "decode_ms": 1e3 * dec, "decode_tok_s": 1 / dec,
                      "decode_cpu_ms": 1e3 * dec_cpu, "tokens": runs[n][0]["tokens"]}
    res["runs_raw"] = runs
    res["summary"] = summary

    first = names[0]
    ref = summary[first]["tokens"]
    agree = {}
    a0 = logits0[first].astype(np.float64)
    for n in names[1:]:
        t = summary[n]["tokens"]
        lead = next((i for i, (x, y) in enumerate(zip(ref, t)) if x != y), len(ref))
        b0 = logits0[n].astype(np.float64)
        cos = float(a0 @ b0 / (np.linalg.norm(a0) * np.linalg.norm(b0)))
        top = len(set(np.argsort(-a0)[:10]) & set(np.argsort(-b0)[:10]))
        agree[n] = {"first_token_same": ref[0] == t[0], "leading_tokens_same": lead,
                    "logits_cosine": cos, "top10_overlap": top}
    res["agreement"] = agree

    print()
    print(f"DeepSeek-V3 shapes, {res['layers']} layers ({res['dense_layers']} dense), "
          f"{res['experts']} routed experts; dsv3 FP8 checkpoint vs llama.cpp Q8_0 GGUF "
          f"({res['gguf_bytes'] / 1e9:.2f} GB); {a.runs} alternating runs; "
          f"load average now {os.getloadavg()[0]:.1f}")
    fp8 = "dsv3 fp8-head" in engines
    print(f"{'engine':22s} {'prefill tok/s':>14s} {'(CPU s)':>8s} {'decode tok/s':>13s} "
          f"{'ms/token':>9s} {'(CPU ms)':>9s} {'dsv3/this prefill':>18s} {'dsv3/this decode':>17s}"
          + (f" {'fp8-head/this decode':>21s}" if fp8 else "")
          + f"  (dsv3{' with the ' + heads[0] + ' head' if fp8 else ''} at the same thread count)")
    for n in names:
        s = summary[n]
        t = n.split("=")[1]  # same thread count
        mine = summary["dsv3 t=" + t]
        rp = mine["prefill_tok_s"] / s["prefill_tok_s"]
        rd = mine["decode_tok_s"] / s["decode_tok_s"]
        extra = (f" {summary['dsv3 fp8-head t=' + t]['decode_tok_s'] / s['decode_tok_s']:21.3f}"
                 if fp8 else "")
        print(f"{n:22s} {s['prefill_tok_s']:14.2f} {s['prefill_cpu_s']:8.1f} {s['decode_tok_s']:13.3f} "
              f"{s['decode_ms']:9.0f} {s['decode_cpu_ms']:9.0f} {rp:18.3f} {rd:17.3f}{extra}")
    print("\ngreedy tokens:")
    for n in names:
        print(f"  {n:20s} {' '.join(map(str, summary[n]['tokens']))}")
    for n, g in agree.items():
        print(f"  dsv3 vs {n}: first token {'same' if g['first_token_same'] else 'DIFFERENT'}, "
              f"{g['leading_tokens_same']} leading tokens same, logits after the prompt: "
              f"cosine {g['logits_cosine']:.4f}, top-10 overlap {g['top10_overlap']}/10")
    print(f"\nRSS: after dsv3 bind {res['rss_after_dsv3_bind']['VmRSS'] / 1e9:.2f} GB, after "
          f"llama.cpp load {res['rss_after_llama_load']['VmRSS'] / 1e9:.2f} GB, end "
          f"{res['rss_end']['VmRSS'] / 1e9:.2f} GB (anon {res['rss_end']['RssAnon'] / 1e9:.2f} GB)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2, default=float)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
