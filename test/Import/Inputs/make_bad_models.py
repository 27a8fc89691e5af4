"""Writes broken copies of a tiny checkpoint for dsv3-import's error tests.
Usage: make_bad_models.py SRC_MODEL_DIR SHARDED_MODEL_DIR OUT_DIR"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "Integration", "lib"))
from dsv3_testing import load_safetensors, save_safetensors  # noqa: E402

src, sharded, out = sys.argv[1:4]
config = json.load(open(os.path.join(src, "config.json")))
weights = load_safetensors(os.path.join(src, "model.safetensors"))


def model(name, cfg=None, tensors=None, raw_config=None):
    d = os.path.join(out, name)
    os.makedirs(d)
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write(raw_config if raw_config is not None
                else json.dumps(cfg if cfg is not None else config))
    if tensors is not None:
        save_safetensors(os.path.join(d, "model.safetensors"), tensors)
    return d


def with_config(**changes):
    c = dict(config)
    c.update(changes)
    return c


model("not_json", raw_config='{"architectures": ["DeepseekV2ForCausalLM"],')
# Written by hand, as for the runtime (docs/fuzzing.md): the JSON parser
# recursed once per "[" and overflowed the stack.
model("deep_nesting", raw_config='{"architectures": ' + "[" * 200000 + "]" * 200000 + "}")
model("unknown_key", with_config(sliding_window=4096))
model("gelu", with_config(hidden_act="gelu"))
model("linear_rope", with_config(rope_scaling={"type": "linear", "factor": 2.0}))
q = dict(config["quantization_config"])
q["weight_block_size"] = [64, 64]
model("block64", with_config(quantization_config=q))
model("bad_topk", with_config(topk_method="top2"))
model("heads", with_config(num_key_value_heads=1))
model("top_k", with_config(num_experts_per_tok=99))
# Valid keys, inconsistent together: 4 experts per group, one group kept,
# top-8 (the dsv3.moe verifier's check).
v3 = json.load(open(os.path.join(sharded, "config.json")))
v3.update(topk_group=1, num_experts_per_tok=8)
model("router", v3)
model("config_only", config)
# Building the graph grows superlinearly with the depth: 4096 layers took
# 19 s and 4 GB.
model("many_layers", with_config(num_hidden_layers=4096))
model("huge_experts", with_config(n_routed_experts=65536, num_experts_per_tok=8,
                                  moe_intermediate_size=1 << 24, hidden_size=1 << 24))

missing = dict(weights)
del missing["model.layers.1.mlp.experts.3.up_proj.weight_scale_inv"]
model("missing_tensor", tensors=missing)
shaped = dict(weights)
shaped["model.norm.weight"] = shaped["model.norm.weight"][:-1]
model("misshapen_tensor", tensors=shaped)
extra = dict(weights)
extra["model.layers.0.self_attn.rotary_emb.inv_freq"] = weights["model.norm.weight"]
model("extra_tensor", tensors=extra)

d = os.path.join(out, "truncated")
shutil.copytree(src, d)
path = os.path.join(d, "model.safetensors")
os.truncate(path, os.path.getsize(path) - 1000)

d = os.path.join(out, "missing_shard")
shutil.copytree(sharded, d)
os.remove(os.path.join(d, "model-00002-of-00002.safetensors"))

d = os.path.join(out, "index_lies")
shutil.copytree(sharded, d)
index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
name = sorted(index["weight_map"])[0]
index["weight_map"][name] = "model-00002-of-00002.safetensors"
json.dump(index, open(os.path.join(d, "model.safetensors.index.json"), "w"))
