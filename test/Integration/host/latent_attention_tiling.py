"""dsv3.latent_attention's TilingInterface over its parallel dimensions
(batch, query, head), driven by upstream's transform dialect
(transform.structured.tile_using_forall): the tiled module must give the
bits of the untiled one. Query tiles shift start_pos by the tile's first
query (after clamping), so the causal mask has to come out the same for
every tile; sequences sit at different start positions, one far past the
cache, one before its start."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from dsv3_testing import *  # noqa: E402,F403

out = sys.argv[1]
B, S, H, C, R, L = 3, 4, 8, 16, 8, 6


def ty(*shape, dt="f32"):
    return "tensor<" + "x".join(map(str, shape)) + f"x{dt}>"


q, qp, c, k, iv = ty(B, S, H, C), ty(B, S, H, R), ty(B, L, C), ty(B, L, R), ty(B, dt="i64")
with open(f"{out}/graph.mlir", "w") as f:
    f.write(f"""
func.func @attend(%q: {q}, %qp: {qp}, %c: {c}, %k: {k}, %s: {iv}, %l: {iv}) -> {q} {{
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : {q}, {qp}, {c}, {k}, {iv}, {iv} -> {q}
  return %o : {q}
}}
""")
with open(f"{out}/schedule.mlir", "w") as f:
    f.write("""
module attributes {transform.with_named_sequence} {
  transform.named_sequence @__transform_main(%root: !transform.any_op {transform.readonly}) {
    %op = transform.structured.match ops{["dsv3.latent_attention"]} in %root
        : (!transform.any_op) -> !transform.any_op
    %t, %l = transform.structured.tile_using_forall %op tile_sizes [1, 2, 4, 0]
        : (!transform.any_op) -> (!transform.any_op, !transform.any_op)
    transform.yield
  }
}
""")
run(["dsv3-opt", f"{out}/graph.mlir",
     f"--transform-preload-library=transform-library-paths={out}/schedule.mlir",
     "--transform-interpreter", "-o", f"{out}/tiled.mlir"])
with open(f"{out}/tiled.mlir") as f:
    check("scf.forall" in f.read(), "the schedule tiled the op")
for name in ("graph", "tiled"):
    run(["dsv3-compile", f"{out}/{name}.mlir", "--target=host", "-o", f"{out}/{name}.so"])

rng = np.random.default_rng(5)
inputs = [rng.standard_normal((B, S, H, C)).astype(np.float32),
          rng.standard_normal((B, S, H, R)).astype(np.float32),
          rng.standard_normal((B, L, C)).astype(np.float32),
          rng.standard_normal((B, L, R)).astype(np.float32),
          np.array([1, 2 ** 62, -3]), np.array([5, 6, 2])]
save_safetensors(f"{out}/in.safetensors", {f"a{i}": a for i, a in enumerate(inputs)})
got = {}
for name in ("graph", "tiled"):
    run(["dsv3-run", f"{out}/{name}.so", "--function=attend"]
        + [f"--input=@{out}/in.safetensors:a{i}" for i in range(6)]
        + [f"--output=@{out}/{name}.npy"])
    got[name] = np.load(f"{out}/{name}.npy")
ref = attention_ref(*inputs, 0.25)
print("relative error vs float64", rel_error(got["graph"], ref))
check(rel_error(got["graph"], ref) < 1e-5, "the untiled op matches float64 to 1e-5")
check(np.array_equal(got["graph"][2, :2], np.zeros_like(got["graph"][2, :2])),
      "queries before the cache's first row see nothing (zeros)")
check(np.array_equal(got["graph"], got["tiled"]),
      "tiles of 1 sequence x 2 queries x 4 heads give the untiled op's bits")
