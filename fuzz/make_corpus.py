#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ (small files, each <= 4 KB).

The runtime's seeds are the valid and invalid inputs the unit tests build in
code (unittests/Runtime/SafetensorsTest.cpp, NpyTest.cpp, CheckpointTest.cpp
and the metadata of the fake modules), written as files. The compiler's are
taken from the tests: config (config_fuzzer) the official configs
(test/Import/Inputs/configs), the tiny models' configs
(test/Integration/fixtures/tiny_models) and the broken variants of
test/Import/Inputs/make_bad_models.py; ir (ir_fuzzer) every `// -----` split
of test/Dialect and test/Conversion that fits in 4 KB once its comment
lines (RUN, CHECK, expected-error) are dropped. Rerun after changing a seed
or those tests; the output is deterministic:  python3 fuzz/make_corpus.py
"""
import json
import os
import shutil
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def safetensors(header, data=b""):
    if not isinstance(header, bytes):
        header = header.encode()
    return struct.pack("<Q", len(header)) + header + data


def st_entries(entries, metadata=None, data=None):
    """A well-formed file: entries = [(name, dtype, shape, nbytes)]."""
    head = {}
    if metadata is not None:
        head["__metadata__"] = metadata
    off = 0
    for name, dtype, shape, n in entries:
        head[name] = {"dtype": dtype, "shape": shape,
                      "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(head, separators=(",", ":"))
    text += " " * ((8 - len(text) % 8) % 8)
    return safetensors(text, data if data is not None else bytes(range(off)))


def npy(dict_text, data=b"", major=1):
    header = (dict_text + "\n").encode()
    s = b"\x93NUMPY" + bytes([major, 0])
    s += struct.pack("<H" if major == 1 else "<I", len(header))
    return s + header + data


def npy_dict(descr, shape, fortran=False):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    return "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (
        descr, "True" if fortran else "False", dims)


def metadata_seeds():
    arg = lambda name, role, dtype, shape, **kw: dict(
        name=name, role=role, dtype=dtype, shape=shape, **kw)
    add = {"abi_version": 4, "target": "host", "entries": [
        {"name": "add", "symbol": "dsv3_entry_add", "args": [
            arg("x", "input", "f32", [2, 3]),
            arg("w", "parameter", "f32", [2, 3]),
            arg("y", "output", "f32", [2, 3])]},
        {"name": "neg_bf16", "symbol": "dsv3_entry_neg_bf16", "args": [
            arg("a", "input", "bf16", [4]), arg("b", "output", "bf16", [4])]}]}
    stacked = {"abi_version": 4, "target": "host", "entries": [
        {"name": "gather_rows", "symbol": "dsv3_entry_gather_rows", "args": [
            arg("ids", "input", "i32", [2], bounds={
                "min": 0, "max": 3, "why": "expert ids"}),
            arg("experts.{e}.w", "parameter", "f32", [4, 3], stacked=True,
                expert_pointers=True),
            arg("rows", "output", "f32", [2, 3])]}]}
    dynamic = {"abi_version": 4, "target": "cuda", "entries": [
        {"name": "prefill", "symbol": "dsv3_entry_prefill", "args": [
            arg("ids", "input", "i64", [1, -1], dynamic_dims=[
                {"dim": 1, "symbol": "T", "min": 1, "max": 16}],
                bounds={"min": 0, "max": 99}),
            arg("positions", "input", "i32", [-1], dynamic_dims=[
                {"dim": 0, "symbol": "T", "min": 1, "max": 16}],
                bounds={"min": 0, "max": 64, "minus": "T"}),
            arg("cache", "state", "f32", [2, 64, 8]),
            arg("logits", "output", "f32", [-1, 32], dynamic_dims=[
                {"dim": 0, "symbol": "T"}])]}]}
    seeds = {
        "add.json": json.dumps(add),
        "stacked.json": json.dumps(stacked),
        "dynamic.json": json.dumps(dynamic),
        "empty_entries.json": '{"abi_version": 4, "target": "host", '
                              '"entries": []}',
        "bad_abi.json": '{"abi_version": 7, "target": "host", "entries": []}',
        "truncated.json": '{"abi_version": 4, "target": "host", "entries": [',
        "bad_role.json": json.dumps({"abi_version": 4, "target": "host",
                                     "entries": [{"name": "f", "symbol": "s",
                                                  "args": [arg("x", "weight",
                                                               "f32", [1])]}]}),
        "overflow.json": json.dumps({"abi_version": 4, "target": "host",
                                     "entries": [{"name": "f", "symbol": "s",
                                                  "args": [arg("x", "input",
                                                               "f32",
                                                               [2**62, 4])]}]}),
    }
    return {k: v.encode() for k, v in seeds.items()}


def checkpoint_seeds():
    # Shards present in the fuzzer's directory (checkpoint_index_fuzzer.cpp).
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    ok = {"metadata": {"total_size": 24}, "weight_map": {"a": s1, "b": s1,
                                                        "c": s2}}
    return {
        "ok.json": json.dumps(ok),
        "one_shard_missing_tensor.json": json.dumps(
            {"weight_map": {"a": s1, "b": s1}}),
        "wrong_shard.json": json.dumps({"weight_map": {"a": s2, "b": s1,
                                                       "c": s2}}),
        "absent_shard.json": json.dumps({"weight_map": {"a": "nope.safetensors"}}),
        "absolute.json": json.dumps({"weight_map": {"a": "/" + s1}}),
        "duplicate.json": '{"weight_map": {"a": "%s", "a": "%s", "b": "%s", '
                          '"c": "%s"}}' % (s1, s1, s1, s2),
        "not_object.json": '{"weight_map": ["a"]}',
        "no_map.json": '{"metadata": {}}',
        "truncated.json": '{"weight_map": {',
        "not_string.json": '{"weight_map": {"a": 3}}',
    }


def safetensors_seeds():
    f8 = st_entries([("a", "F8_E4M3", [2], 2), ("b", "F8_E8M0", [1], 1),
                     ("c", "I8", [1], 1), ("d", "F16", [2], 4),
                     ("e", "I32", [1], 4), ("z", "BOOL", [0], 0)])
    return {
        "dtypes.safetensors": f8,
        "metadata.safetensors": st_entries(
            [("w", "BF16", [2, 2], 8), ("s", "F32", [], 4)],
            metadata={"format": "pt"}),
        "i64.safetensors": st_entries([("x", "I64", [1, 1, 2], 16)]),
        "empty.safetensors": safetensors("{}"),
        "short.safetensors": b"\x05\x00\x00",
        "header_too_long.safetensors": struct.pack("<Q", 1000) + b"{}",
        "duplicate.safetensors": safetensors(
            '{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]},'
            '"a":{"dtype":"I8","shape":[1],"data_offsets":[1,2]}}', b"xy"),
        "overlap.safetensors": safetensors(
            '{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},'
            '"b":{"dtype":"I32","shape":[1],"data_offsets":[4,8]}}', b"x" * 8),
        "overflow.safetensors": safetensors(
            '{"a":{"dtype":"F32","shape":[4611686018427387904,4],'
            '"data_offsets":[0,0]}}'),
        "bad_metadata.safetensors": safetensors('{"__metadata__":{"a":1}}'),
        "float_dim.safetensors": safetensors(
            '{"a":{"dtype":"I8","shape":[2.0],"data_offsets":[0,2]}}', b"xx"),
    }


def npy_seeds():
    return {
        "f32_2x3.npy": npy(npy_dict("<f4", [2, 3]), bytes(24)),
        "i64_scalar.npy": npy(npy_dict("<i8", []), bytes(8)),
        "u1_v2.npy": npy(npy_dict("|u1", [5]), bytes(5), major=2),
        "b1_v3.npy": npy(npy_dict("|b1", [0, 4]), b"", major=3),
        "f2_double_quotes.npy": npy('{"descr": "<f2", "fortran_order": False, '
                                    '"shape": (3,)}', bytes(6)),
        "not_npy.npy": b"PK\x03\x04 not numpy",
        "no_length.npy": b"\x93NUMPY\x01\x00",
        "long_header.npy": b"\x93NUMPY\x01\x00\xff\x00{",
        "fortran.npy": npy(npy_dict("<f4", [2], fortran=True), bytes(8)),
        "big_endian.npy": npy(npy_dict(">f4", [2]), bytes(8)),
        "truncated_data.npy": npy(npy_dict("<i4", [4]), bytes(8)),
        "overflow.npy": npy(npy_dict("<f8", [4611686018427387904, 4])),
        "unexpected_key.npy": npy("{'descr': '<f4', 'fortran_order': False, "
                                  "'shape': (1,), 'extra': 1}", bytes(4)),
        "version9.npy": b"\x93NUMPY\x09\x00\x10\x00" + b" " * 16,
    }


SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def config_seeds():
    seeds = {}
    official = os.path.join(SRC, "test", "Import", "Inputs", "configs")
    for name in sorted(os.listdir(official)):
        with open(os.path.join(official, name), "rb") as f:
            seeds[name] = f.read()
    tiny = os.path.join(SRC, "test", "Integration", "fixtures", "tiny_models")
    for name in sorted(os.listdir(tiny)):
        path = os.path.join(tiny, name, "config.json")
        if os.path.isfile(path):
            with open(path, "rb") as f:
                seeds[name + ".json"] = f.read()
    # make_bad_models.py's broken configs (the import error tests).
    with open(os.path.join(tiny, "tiny_v2_lite", "config.json")) as f:
        base = json.load(f)
    with open(os.path.join(tiny, "tiny_v3", "config.json")) as f:
        v3 = json.load(f)

    def variant(cfg, **changes):
        c = dict(cfg)
        c.update(changes)
        return json.dumps(c, indent=1).encode()

    q = dict(base.get("quantization_config") or {})
    q["weight_block_size"] = [64, 64]
    seeds.update({
        "bad_not_json.json": b'{"architectures": ["DeepseekV2ForCausalLM"],',
        "bad_unknown_key.json": variant(base, sliding_window=4096),
        "bad_gelu.json": variant(base, hidden_act="gelu"),
        "bad_linear_rope.json": variant(
            base, rope_scaling={"type": "linear", "factor": 2.0}),
        "bad_block64.json": variant(base, quantization_config=q),
        "bad_topk.json": variant(base, topk_method="top2"),
        "bad_heads.json": variant(base, num_key_value_heads=1),
        "bad_top_k.json": variant(base, num_experts_per_tok=99),
        "bad_router.json": variant(v3, topk_group=1, num_experts_per_tok=8),
        "bad_huge_experts.json": variant(
            base, n_routed_experts=65536, num_experts_per_tok=8,
            moe_intermediate_size=1 << 24, hidden_size=1 << 24),
        "not_object.json": b"[1, 2, 3]",
    })
    return seeds


def ir_seeds():
    seeds = {}
    for sub in ("Dialect", "Conversion"):
        d = os.path.join(SRC, "test", sub)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".mlir"):
                continue
            with open(os.path.join(d, name)) as f:
                text = f.read()
            for i, part in enumerate(text.split("// -----")):
                lines = [l for l in part.splitlines()
                         if not l.strip().startswith("//") and l.strip()]
                seed = ("\n".join(lines) + "\n").encode()
                if len(lines) and len(seed) <= 4096:
                    seeds["%s-%02d.mlir" % (name[:-5], i)] = seed
    return seeds


def main():
    targets = {
        "safetensors": safetensors_seeds(),
        "npy": npy_seeds(),
        "metadata": metadata_seeds(),
        "checkpoint_index": {k: v.encode() for k, v in checkpoint_seeds().items()},
        "config": config_seeds(),
        "ir": ir_seeds(),
    }
    for target, seeds in targets.items():
        d = os.path.join(ROOT, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            assert len(data) <= 4096, (target, name, len(data))
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print(f"{d}: {len(seeds)} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
