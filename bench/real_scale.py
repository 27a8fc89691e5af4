"""DeepSeek-V3 at its real layer sizes, end to end on the host: import,
compile, bind, a 64-token prefill and 16 greedy decode steps, with the time,
memory and weight bytes each step touches.

  .venv/bin/python bench/real_scale.py [--dir /work/v3ckpt] [--bin build/bin] [--json out.json]
  .venv/bin/python bench/real_scale.py --dir /work/v3s --experts 32     # smaller MoE layer

The checkpoint is bench/make_v3_checkpoint.py's (seeded random weights, stock
Hugging Face layout; made in --dir if it has no config.json: 4 layers = 3
dense + 1 MoE of 256 experts by default, 17 GB). Steps, each timed:

  1. dsv3-import DIR --prefill-tokens=P --max-seq-len=L        (graph.mlir)
  2. the dsv3.moe ops get alignment(A) (--moe-alignment, default 1; see below)
  3. dsv3-compile --target=host                                 (model.so)
  4. in a fresh process, through python/dsv3rt.py: load + bind (the
     checkpoint is mmapped; host modules read each expert where the file
     holds it, so nothing is copied; modules of older tools gathered the
     stacked experts unless the file held them back to back), one prefill of
     P tokens (seeded random ids), then N greedy decode steps.

Memory: VmRSS split into RssAnon (owned buffers: gathered experts, KV caches,
activations) and RssFile (mmapped checkpoint pages), after bind, prefill and
decode, and the peak VmHWM.

Weight bytes per decode step: before each step the process clears its pages'
accessed bits (/proc/self/clear_refs), after it sums the `Referenced` kB of
/proc/self/smaps over (a) the mappings of checkpoint files and (b) the
anonymous mappings created by bind (gathered expert stacks): the memory the
step actually touched, at page granularity (4 KiB; 2 MiB where anonymous
memory is in transparent huge pages). It is compared with the ideal: the
activated parameters' bytes as stored (FP8 + f32 block scales, bf16 norms /
embeddings / lm_head / router): one embedding row, per layer the attention
projections and norms, the dense MLP or the router + 8 routed + 1 shared
expert, the final norm and lm_head. (Other anonymous memory touched, mostly
the KV caches and activations, is reported apart.) /proc/self/io read_bytes
gives what came from disk, which is 0 when the checkpoint is in the page
cache (--drop-caches evicts the checkpoint files before the run).

--moe-alignment: dsv3-import writes alignment(1) on dsv3.moe (segments of
exactly the routed rows). With the op's default, DeepGEMM's 128 rows per
expert segment, the host grouped GEMM computes every row of every segment,
T*8 + E*127 rows per MoE layer per call; --moe-alignment=N patches another
alignment in to measure that; the default, import, keeps the graph as is.

CPU: the host code is single-threaded; run on a quiet machine (`nice` does not
help timing). Everything is seeded (--seed).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def default_bin():
    return os.environ.get("DSV3_BIN") or os.path.join(ROOT, "build", "bin")


def tool(bindir, name):
    path = os.path.join(bindir, name)
    if not os.access(path, os.X_OK):
        sys.exit(f"real_scale.py: {path} not found (build dsv3, or pass --bin DIR / set DSV3_BIN)")
    return path


# ---------------------------------------------------------------- ideal bytes

def activated_bytes(cfg):
    """Bytes of weights one decode token reads, as stored in the checkpoint."""
    D, V = cfg["hidden_size"], cfg["vocab_size"]
    H, QR, C = cfg["num_attention_heads"], cfg["q_lora_rank"], cfg["kv_lora_rank"]
    NOPE, R, VD = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    I, MI, E = cfg["intermediate_size"], cfg["moe_intermediate_size"], cfg["n_routed_experts"]
    K, S = cfg["num_experts_per_tok"], cfg["n_shared_experts"]

    def fp8(n, k):
        return n * k + 4 * (-(-n // 128)) * (-(-k // 128))

    attn = (fp8(QR, D) + fp8(H * (NOPE + R), QR) + fp8(C + R, D) + fp8(H * (NOPE + VD), C)
            + fp8(D, H * VD) + 2 * (QR + C) + 2 * 2 * D)
    dense = 3 * fp8(I, D)
    expert = 2 * fp8(MI, D) + fp8(D, MI)
    shared = 2 * fp8(MI * S, D) + fp8(D, MI * S)
    router = 2 * E * D + 4 * E
    parts = {"embedding row": 2 * D, "attention (all layers)": 0, "dense MLPs": 0,
             "routers": 0, "routed experts (8/token)": 0, "shared experts": 0,
             "final norm + lm_head": 2 * D + 2 * V * D}
    for l in range(cfg["num_hidden_layers"]):
        parts["attention (all layers)"] += attn
        moe = E > 0 and l >= cfg["first_k_dense_replace"] and l % cfg.get("moe_layer_freq", 1) == 0
        if moe:
            parts["routers"] += router
            parts["routed experts (8/token)"] += K * expert
            parts["shared experts"] += shared
        else:
            parts["dense MLPs"] += dense
    return sum(parts.values()), parts


# ---------------------------------------------------------------- child

def _status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0]) * 1024
    return out


def _io_read():
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("read_bytes:"):
                return int(line.split()[1])
    return 0


def _smaps():
    """[(start, end, path, referenced_bytes)] of this process's mappings."""
    maps, cur = [], None
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(None, 5)
            if head and "-" in head[0] and not head[0].endswith(":"):
                a, b = head[0].split("-")
                path = head[5].strip() if len(head) > 5 else ""
                cur = [int(a, 16), int(b, 16), path, 0]
                maps.append(cur)
            elif line.startswith("Referenced:") and cur is not None:
                cur[3] = int(line.split()[1]) * 1024
    return maps


def _clear_refs():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("1")


def child(a):
    import numpy as np
    sys.path.insert(0, a.python)
    import dsv3rt

    shard_files = {os.path.realpath(os.path.join(a.dir, f)) for f in os.listdir(a.dir)
                   if f.endswith(".safetensors")}
    res = {"library": dsv3rt.library_path(), "loadavg_start": os.getloadavg()}
    before = {(m[0], m[1]) for m in _smaps()}
    io0 = _io_read()
    s = dsv3rt.Session("host")
    m = s.load(a.so)
    t0 = time.perf_counter()
    m.bind(a.dir)
    res["bind_s"] = time.perf_counter() - t0
    res["bind_disk_read_bytes"] = _io_read() - io0
    res["mem_after_bind"] = _status()
    bind_anon = {(x[0], x[1]) for x in _smaps()
                 if (x[0], x[1]) not in before and (x[2] == "" or x[2].startswith("[anon"))}
    res["bind_anon_mapped_bytes"] = sum(e - b for b, e in bind_anon)

    def touched():
        ck = ga = other = 0
        for b, e, path, ref in _smaps():
            if path in shard_files:
                ck += ref
            elif (b, e) in bind_anon:
                ga += ref
            elif path == "" or path.startswith("[anon") or path == "[heap]":
                other += ref
        return {"checkpoint_mmap": ck, "bind_buffers": ga, "other_anon": other}

    V = a.vocab
    rng = np.random.default_rng(a.seed)
    prompt = rng.integers(0, V, size=a.prompt_tokens).astype(np.int64)
    P = a.prompt_tokens
    _clear_refs()
    io0 = _io_read()
    t0, c0 = time.perf_counter(), time.process_time()
    (logits,) = m.call("prefill", prompt[None, :], np.arange(P, dtype=np.int64)[None, :],
                       np.array([0], np.int64), np.array([P], np.int64))
    res["prefill_s"] = time.perf_counter() - t0
    res["prefill_cpu_s"] = time.process_time() - c0
    res["prefill_touched"] = touched()
    res["prefill_disk_read_bytes"] = _io_read() - io0
    res["mem_after_prefill"] = _status()
    logits = np.asarray(logits, np.float32).reshape(-1)
    finite = bool(np.isfinite(logits).all())
    tokens = [int(np.argmax(logits))]
    steps = []
    for i in range(a.decode_steps):
        pos = P + i
        _clear_refs()
        io0 = _io_read()
        t0, c0 = time.perf_counter(), time.process_time()
        (logits,) = m.call("decode", np.array([[tokens[-1]]], np.int64),
                           np.array([[pos]], np.int64), np.array([pos], np.int64),
                           np.array([pos + 1], np.int64))
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        logits = np.asarray(logits, np.float32).reshape(-1)
        finite = finite and bool(np.isfinite(logits).all())
        steps.append({"s": dt, "cpu_s": dc, "touched": touched(), "disk_read_bytes": _io_read() - io0})
        tokens.append(int(np.argmax(logits)))
    res["decode_steps"] = steps
    res["mem_after_decode"] = _status()
    res["tokens"] = tokens
    res["loadavg_end"] = os.getloadavg()
    res["logits_finite"] = finite
    res["last_logits_std"] = float(np.std(logits))
    with open(a.child_out, "w") as f:
        json.dump(res, f)


# ---------------------------------------------------------------- parent

def evict(paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def gb(x):
    return f"{x / 1e9:.2f} GB"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="/work/v3ckpt", help="checkpoint (made here if missing)")
    p.add_argument("--bin", default=default_bin(),
                   help="dsv3 tools; libdsv3rt from BIN/../lib (default $DSV3_BIN or build/bin)")
    p.add_argument("--python", default=os.path.join(ROOT, "python"),
                   help="directory of the dsv3rt.py that matches --bin's libdsv3rt (default python/)")
    p.add_argument("--work", default="", help="where graph.mlir and model.so go (default DIR/bench)")
    p.add_argument("--layers", type=int, default=4, help="for a new checkpoint (default 4)")
    p.add_argument("--dense-layers", type=int, default=3, help="for a new checkpoint (default 3)")
    p.add_argument("--experts", type=int, default=256, help="for a new checkpoint (default 256)")
    p.add_argument("--prompt-tokens", type=int, default=64)
    p.add_argument("--decode-steps", type=int, default=16)
    p.add_argument("--max-seq-len", type=int, default=4096)
    p.add_argument("--moe-alignment", default="import",
                   help="alignment(N) given to every dsv3.moe, or 'import' (importer's graph as is)")
    p.add_argument("--drop-caches", action="store_true",
                   help="evict the checkpoint files from the page cache first (cold bind)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default="", help="write the results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--so", help=argparse.SUPPRESS)
    p.add_argument("--vocab", type=int, help=argparse.SUPPRESS)
    p.add_argument("--child-out", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a)

    bindir = os.path.abspath(a.bin)
    lib = os.path.normpath(os.path.join(bindir, "..", "lib", "libdsv3rt.so"))
    if not os.path.exists(lib):
        sys.exit(f"real_scale.py: {lib} not found (libdsv3rt next to --bin)")
    if not os.path.exists(os.path.join(a.dir, "config.json")):
        print(f"no checkpoint in {a.dir}: making one", flush=True)
        subprocess.run([sys.executable, os.path.join(ROOT, "bench", "make_v3_checkpoint.py"),
                        "--dir", a.dir, "--layers", str(a.layers), "--dense-layers",
                        str(a.dense_layers), "--experts", str(a.experts), "--seed", str(a.seed)],
                       check=True)
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = json.load(f)
    work = a.work or os.path.join(a.dir, "bench")
    os.makedirs(work, exist_ok=True)
    shards = sorted(os.path.join(a.dir, f) for f in os.listdir(a.dir) if f.endswith(".safetensors"))
    ckpt_bytes = sum(os.path.getsize(f) for f in shards)
    res = {"dir": a.dir, "bin": bindir, "checkpoint_bytes": ckpt_bytes, "shards": len(shards),
           "layers": cfg["num_hidden_layers"], "dense_layers": cfg["first_k_dense_replace"],
           "experts": cfg["n_routed_experts"], "prompt_tokens": a.prompt_tokens,
           "decode_steps": a.decode_steps, "max_seq_len": a.max_seq_len,
           "moe_alignment": a.moe_alignment}

    mlir = os.path.join(work, "graph.mlir")
    t0 = time.perf_counter()
    subprocess.run([tool(bindir, "dsv3-import"), a.dir, "-o", mlir,
                    f"--prefill-tokens={a.prompt_tokens}", f"--max-seq-len={a.max_seq_len}"],
                   check=True)
    res["import_s"] = time.perf_counter() - t0
    if a.moe_alignment != "import":
        n = int(a.moe_alignment)
        with open(mlir) as f:
            text = f.read()
        text, count = re.subn(r"(dsv3\.moe [^\n]*?weight_type\([^)]*\))(?: alignment\(\d+\))?",
                              rf"\1 alignment({n})", text)
        with open(mlir, "w") as f:
            f.write(text)
        res["moe_ops_patched"] = count
    so = os.path.join(work, "model.so")
    t0 = time.perf_counter()
    subprocess.run([tool(bindir, "dsv3-compile"), mlir, "--target=host", "-o", so], check=True)
    res["compile_s"] = time.perf_counter() - t0
    res["module_bytes"] = os.path.getsize(so)

    if a.drop_caches:
        evict(shards)
    out = os.path.join(work, "child.json")
    env = dict(os.environ, DSV3_BIN=bindir, DSV3RT_LIBRARY=lib)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", "--dir", a.dir,
                        "--so", so, "--python", os.path.abspath(a.python), "--vocab", str(cfg["vocab_size"]), "--seed", str(a.seed),
                        "--prompt-tokens", str(a.prompt_tokens),
                        "--decode-steps", str(a.decode_steps), "--child-out", out], env=env)
    if r.returncode != 0:
        sys.exit(f"real_scale.py: the run failed (exit {r.returncode}); see above")
    res["run_process_s"] = time.perf_counter() - t0
    with open(out) as f:
        res.update(json.load(f))
    ideal, parts = activated_bytes(cfg)
    res["ideal_decode_bytes"] = ideal
    res["ideal_decode_parts"] = parts

    steps = res["decode_steps"]
    times = sorted(s["s"] for s in steps)
    med = times[len(times) // 2] if times else float("nan")
    touched = [s["touched"]["checkpoint_mmap"] + s["touched"]["bind_buffers"] for s in steps]
    tmed = sorted(touched)[len(touched) // 2] if touched else 0
    res["decode_median_s"] = med
    cpus = sorted(s["cpu_s"] for s in steps)
    res["decode_median_cpu_s"] = cpus[len(cpus) // 2] if cpus else float("nan")
    res["decode_tok_s"] = 1 / med if med else float("nan")
    res["prefill_tok_s"] = a.prompt_tokens / res["prefill_s"]
    res["decode_touched_median_bytes"] = tmed

    print()
    print(f"DeepSeek-V3 shapes, {res['layers']} layers ({res['dense_layers']} dense), "
          f"{res['experts']} routed experts, checkpoint {gb(ckpt_bytes)} in {len(shards)} shards; "
          f"dsv3.moe alignment: {a.moe_alignment}")
    rows = [
        ("dsv3-import", f"{res['import_s']:.2f} s"),
        ("dsv3-compile --target=host", f"{res['compile_s']:.1f} s, module {res['module_bytes'] / 1e6:.1f} MB"),
        ("bind", f"{res['bind_s']:.2f} s, {gb(res['bind_disk_read_bytes'])} read from disk, "
                 f"{gb(res['bind_anon_mapped_bytes'])} gathered into owned buffers"),
        ("  RSS after bind", _mem(res["mem_after_bind"])),
        (f"prefill ({a.prompt_tokens} tokens)", f"{res['prefill_s']:.2f} s, {res['prefill_tok_s']:.2f} tok/s "
                                                     f"(CPU {res['prefill_cpu_s']:.2f} s)"),
        ("  RSS after prefill", _mem(res["mem_after_prefill"])),
        (f"decode ({a.decode_steps} steps)", f"median {med * 1e3:.0f} ms/token, {res['decode_tok_s']:.3f} tok/s "
                                              f"(min {times[0] * 1e3:.0f}, max {times[-1] * 1e3:.0f} ms; "
                                              f"CPU median {res['decode_median_cpu_s'] * 1e3:.0f} ms)"),
        ("  RSS after decode", _mem(res["mem_after_decode"])),
        ("  peak RSS (VmHWM)", gb(res["mem_after_decode"]["VmHWM"])),
        ("weights touched / decode step", f"median {gb(tmed)} (ideal {gb(ideal)}, "
                                           f"{tmed / ideal:.2f}x)"),
        ("load average (start, end)", f"{res['loadavg_start'][0]:.1f}, {res['loadavg_end'][0]:.1f}"),
        ("greedy tokens", " ".join(map(str, res["tokens"])) + ("" if res["logits_finite"] else "  NON-FINITE LOGITS")),
    ]
    w = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    print("\nideal bytes per decode token:")
    for k, v in parts.items():
        print(f"  {k:<26} {v / 1e6:10.1f} MB")
    print("\nper decode step: ms (CPU ms), touched in checkpoint mmap / bind buffers / other anon, disk read")
    for i, s in enumerate(steps):
        t = s["touched"]
        print(f"  {i:2d} {s['s'] * 1e3:9.0f} ms ({s['cpu_s'] * 1e3:6.0f})  {t['checkpoint_mmap'] / 1e6:9.1f} MB  "
              f"{t['bind_buffers'] / 1e6:9.1f} MB  {t['other_anon'] / 1e6:7.1f} MB  "
              f"{s['disk_read_bytes'] / 1e6:8.1f} MB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)
        print(f"\nwrote {a.json}")


def _mem(m):
    return (f"VmRSS {gb(m['VmRSS'])} (anon {gb(m['RssAnon'])}, file {gb(m['RssFile'])}), "
            f"VmHWM {gb(m['VmHWM'])}")


if __name__ == "__main__":
    main()
