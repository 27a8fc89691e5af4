"""The multi-token-prediction (MTP) module of tiny_v3 against an independent
float64 reference written from the formulas (fixtures/tiny_models/
np_reference.py: mtp_forward; the golden values in tiny_v3/mtp_reference.npz
come from gen_mtp_reference.py).

Imported with f32 activations, every logit, and a dynamic token count:
  * prefill of the 7-token prompt returns the main model's hidden states
    after its final norm (what MTP reads): rel <= 1e-4;
  * mtp_prefill of (h_i, t_{i+1}) at positions i = 0..6 gives the golden MTP
    logits, rel <= 1e-4; the reference's negative controls (concat halves
    swapped, the pre-norm hidden state fed to hnorm, positions shifted by
    one) all differ from them by far more, so each of those mistakes fails;
  * one more row through mtp_decode (h_7 and t_8 at position 7, attending to
    the 7 cached MTP rows) matches the reference's row 7: RoPE differences
    between cached and new rows are checked here, which a shift of every
    position cannot show;
  * verify (the main model's 2-token step) returns both tokens' logits and
    hidden states, equal to decoding them one by one;
  * the MTP layer's embed_tokens and shared_head.head, byte-identical copies
    of the main model's, are bound to them; a checkpoint whose MTP head
    differs binds its own, and the MTP logits follow that head.
Usage: mtp.py MODEL_DIR OUT_DIR"""
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures", "tiny_models"))
from dsv3_testing import check, load_safetensors, run, save_safetensors  # noqa: E402
import dsv3rt  # noqa: E402
import np_reference  # noqa: E402

model_dir, out = sys.argv[1], sys.argv[2]
L, TOL = 64, 1e-4
gold = np.load(os.path.join(model_dir, "mtp_reference.npz"))


def max_rel(got, want):
    want = np.asarray(want, np.float64)
    return float(np.abs(np.asarray(got, np.float64) - want).max()
                 / np.abs(want).max())


mlir, so = os.path.join(out, "mtp.mlir"), os.path.join(out, "mtp.so")
printed = run(["dsv3-import", model_dir, "-o", mlir, f"--max-seq-len={L}",
               "--activation-type=f32", "--prefill-logits=all"])
run(["dsv3-compile", mlir, "--target=host", "-o", so])
session = dsv3rt.Session()
module = session.load(so)
module.bind(model_dir)


def pos(start, n):
    return (np.arange(start, start + n, dtype=np.int64)[None],
            np.array([start], np.int64), np.array([start + n], np.int64))


ids = [int(t) for t in gold["input_ids"]]
P = len(ids)
positions, start, kv_len = pos(0, P)
main = module.call("prefill", input_ids=np.array([ids]), positions=positions,
                   start_pos=start, kv_len=kv_len)
hidden = main["hidden_states"][0]
e = max_rel(hidden, gold["hidden_states"])
check(e <= TOL, f"prefill hidden_states (after model.norm): rel {e:.2e} <= {TOL}")
next_token = int(np.argmax(main["logits"][-1]))
check(next_token == int(gold["next_token"]),
      f"greedy next token {next_token} == reference {int(gold['next_token'])}")

mtp_ids = np.array([gold["mtp_input_ids"]], np.int64)
mtp = module.call("mtp_prefill", input_ids=mtp_ids, hidden_states=hidden[None],
                  positions=positions, start_pos=start, kv_len=kv_len)
e = max_rel(mtp["logits"], gold["mtp_logits"])
check(e <= TOL, f"mtp_prefill logits of {P} rows: rel {e:.2e} <= {TOL}")
for control in ("swapped", "prenorm", "pos1"):
    far = max_rel(gold["mtp_logits_" + control], gold["mtp_logits"])
    check(far > 100 * TOL,
          f"control {control}: {far:.2e} away, so the test would catch it")

# Row P: the main model's state after t_P, and the token after it.
w = np_reference.load(model_dir)
ref_logits, ref_hidden = np_reference.forward(model_dir, ids + [next_token],
                                              w=w, return_hidden=True)
t_next = int(np.argmax(ref_logits[-1]))
ref_mtp = np_reference.mtp_forward(
    model_dir, ref_hidden, np.array(ids[1:] + [next_token, t_next]),
    np.arange(P + 1), w=w)
positions1, start1, kv_len1 = pos(P, 1)
row = module.call("mtp_decode", input_ids=np.array([[t_next]]),
                  hidden_states=ref_hidden[None, P:P + 1].astype(np.float32),
                  positions=positions1, start_pos=start1, kv_len=kv_len1)
e = max_rel(row["logits"][0], ref_mtp[P])
check(e <= TOL, f"mtp_decode at position {P} over {P} cached rows: rel "
      f"{e:.2e} <= {TOL}")
shifted = np_reference.mtp_forward(
    model_dir, ref_hidden, np.array(ids[1:] + [next_token, t_next]),
    np.array(list(range(P)) + [P + 1]), w=w)
far = max_rel(shifted[P], ref_mtp[P])
check(far > 100 * TOL, f"control: the new row at position {P + 1} is {far:.2e} "
      "away, so a wrong decode position fails")

# verify: t_P and t_{P+1} in one call == two decode steps.
positions2, start2, kv_len2 = pos(P, 2)
ver = module.call("verify", input_ids=np.array([[next_token, t_next]]),
                  positions=positions2, start_pos=start2, kv_len=kv_len2)
e = max_rel(ver["logits"][0], ref_logits[P])
check(e <= TOL, f"verify row 0 (t_P) logits: rel {e:.2e} <= {TOL}")
e = max_rel(ver["hidden_states"][0, 0], ref_hidden[P])
check(e <= TOL, f"verify row 0 hidden state: rel {e:.2e} <= {TOL}")
ref2 = np_reference.forward(model_dir, ids + [next_token, t_next], w=w)
e = max_rel(ver["logits"][1], ref2[P + 1])
check(e <= TOL, f"verify row 1 (t_P+1) logits: rel {e:.2e} <= {TOL}")
# The MTP layer's embed_tokens and shared_head.head are copies of the main
# model's in this checkpoint (as in DeepSeek-V3's): bound to them.
shared = {n: (o, same) for n, o, same, _ in module.parameter_sharing()}
want = {"model.layers.3.embed_tokens.weight": ("model.embed_tokens.weight", True),
        "model.layers.3.shared_head.head.weight": ("lm_head.weight", True)}
check(shared == want, f"bind shares the byte-identical copies: {shared}")

# A checkpoint whose MTP head differs from lm_head: bound to its own tensor,
# and the MTP logits follow it.
other = os.path.join(out, "other_head")
os.makedirs(other, exist_ok=True)
raw = {}
for f in sorted(os.listdir(model_dir)):
    if f.endswith(".safetensors"):
        raw.update(load_safetensors(os.path.join(model_dir, f)))
head = "model.layers.3.shared_head.head.weight"
raw[head] = (raw[head].astype(np.float32)[::-1].copy()).astype(raw[head].dtype)
save_safetensors(os.path.join(other, "model.safetensors"), raw)
shutil.copy(os.path.join(model_dir, "config.json"), other)
module.bind(other)
shared = {n: same for n, _, same, _ in module.parameter_sharing()}
check(shared == {"model.layers.3.embed_tokens.weight": True, head: False},
      f"a differing head is bound to its own tensor: {shared}")
session.reset_state()
mtp = module.call("mtp_prefill", input_ids=mtp_ids, hidden_states=hidden[None],
                  positions=positions, start_pos=start, kv_len=kv_len)
ref_other = np_reference.mtp_forward(other, gold["hidden_states"], gold["mtp_input_ids"],
                                     gold["mtp_positions"])
e = max_rel(mtp["logits"], ref_other)
check(e <= TOL and max_rel(ref_other, gold["mtp_logits"]) > 100 * TOL,
      f"mtp_prefill with the differing head: rel {e:.2e} <= {TOL} to its reference")
print("ok")
