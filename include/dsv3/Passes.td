//===- Passes.td - dsv3 passes -----------------------------*- tablegen -*-===//
//
// Every pass of the dsv3 pipelines, in pipeline order. Each has a lit test
// named after its flag under test/.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_PASSES_TD
#define DSV3_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Graph level (lib/Transforms)
//===----------------------------------------------------------------------===//

def Dsv3DecomposeMoE : Pass<"dsv3-decompose-moe"> {
  let summary = "Expand dsv3.moe into its router, grouped GEMMs and weights";
  let description = [{
    Rewrites each `dsv3.moe` (docs/semantics.md §11.2, §13) into
    `dsv3.parameter` ops under the verbatim Hugging Face names
    (`<prefix>.gate.weight`, ...) and the chain `dsv3.moe_gate` →
    `dsv3.expert_dispatch` → `dsv3.grouped_matmul` (gate, up) → silu(gate)·up
    in f32 → `dsv3.grouped_matmul` (down) →
    `dsv3.expert_combine`, plus the shared expert as three `dsv3.linear`s,
    all in f32 and rounded once.

    The routed experts' projections are read as stacked parameters
    (`<prefix>.experts.{e}.gate_proj.weight` `stacked`, [E, N, K], and their
    FP8 scales [E, ceil(N/128), ceil(K/128)]): the runtime assembles them
    from the checkpoint's per-expert tensors when it binds parameters, so the
    graph never copies expert weights. gate_proj and up_proj stay two
    grouped GEMMs over the same rows, since fusing them into one [E, 2I, H]
    weight would need a copy.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def Dsv3DecomposeMLP : Pass<"dsv3-decompose-mlp"> {
  let summary = "Expand dsv3.mlp into its weights and linears";
  let description = [{
    Rewrites each `dsv3.mlp` into `dsv3.parameter` ops under the verbatim
    Hugging Face names (`<prefix>.gate_proj.weight`, and `.weight_scale_inv`
    for FP8) and `down_proj(silu(gate_proj(x)) · up_proj(x))`: three
    `dsv3.linear`s accumulating in f32 around an f32 SwiGLU, rounded once to
    the result type by the last one.
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def Dsv3DecomposeMLA : Pass<"dsv3-decompose-mla"> {
  let summary = "Expand dsv3.mla into projections, rope, cache and attention";
  let description = [{
    Rewrites each `dsv3.mla` (docs/semantics.md §10) into `dsv3.parameter` ops
    under the verbatim Hugging Face names (`<prefix>.q_a_proj.weight`, and
    `.weight_scale_inv` for FP8), `dsv3.linear`, `dsv3.rms_norm`,
    `dsv3.rope`, `dsv3.kv_cache_update` and the attention in one of two
    forms of the same function:
    * `naive` (prefill): K and V of every head are expanded from the whole
      latent cache by `kv_b_proj` (whose rows are per head `[K | V]`,
      docs/semantics.md §3.2) and attention runs per head. It reuses
      `dsv3.latent_attention` with the heads folded into the batch: query
      `[q_nope | 0]` against "latent" `[K_nope | V]` gives exactly
      `q_nope·K_nope` as score and `[· | P·V]` as output, of which the V half
      is kept. With `bound-by-kv-len` only the cache rows below
      `n = clamp(max_b kv_len[b], 0, L)` go through `kv_b_proj` (a
      dynamically sized `dsv3.linear`); rows at or past n are hidden from
      every query, and the rest of the expanded `[B, L, ...]` tensor is left
      unwritten, which the attention never reads.
    * `absorbed` (decode): the K half `W_UK` of `kv_b_proj` (a
      `tensor.extract_slice` of its `[H, nope+v, kv_lora_rank]` view,
      dequantized first for FP8) is folded into the query, attention reads
      only the latent cache, and the V half `W_UV` is applied afterwards.
    * `auto` (default): `absorbed` when the query length S <= 16, else
      `naive`: decode and short chunks then never expand the cache, which
      costs `H·(nope+v)·kv_lora_rank` per cached row, while long prefills
      avoid the `H·kv_lora_rank`-wide scores of the absorbed form.
  }];
  let options = [
    Option<"form", "form", "std::string", /*default=*/"\"auto\"",
           "naive, absorbed or auto (absorbed for S <= 16)">,
    Option<"boundByKvLen", "bound-by-kv-len", "bool", /*default=*/"false",
           "naive form: project only the cache rows below max(kv_len) "
           "(reads kv_len in the host code: not for cuda)">
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::affine::AffineDialect"];
}

def Dsv3OutlineLayerParameters : Pass<"dsv3-outline-layer-parameters",
                                      "::mlir::ModuleOp"> {
  let summary = "Pass each layer's weights into its layer function";
  let description = [{
    An imported model has one private function per kind of decoder layer,
    called once per layer (`func.call @moe_layer(...) {dsv3.layer = 3}`), so
    compile time and module size do not grow with the number of layers.
    Inside it, weights are `dsv3.parameter` ops whose names may hold the
    placeholder `{layer}` (`model.layers.{layer}.mlp.gate.weight`).

    For every private function that reads parameters, each distinct name
    becomes a trailing function argument, and every call reads the
    parameter named with `{layer}` replaced by its `dsv3.layer` and passes
    it; `dsv3-outline-parameters` then makes those reads entry arguments.
    Private callers are handled in turn. Errors: a call to such a function
    without a non-negative `dsv3.layer` when a name holds `{layer}`; a use
    other than `func.call`; one name read with two types; a cycle of calls.
  }];
}

def Dsv3NameOpLocations : Pass<"dsv3-name-op-locations"> {
  let summary = "Name each dsv3 op in its location, for the kernels it becomes";
  let description = [{
    Wraps the location of every dsv3 op except `dsv3.parameter` in a name
    that says what it computes: the op's mnemonic, then the Hugging Face
    module of its first operand that is a `dsv3.parameter` (the component
    before the tensor's own name: `q_a_proj` for
    `model.layers.0.self_attn.q_a_proj.weight`), then `_fp8` if that weight
    is `f8E4M3FN`. Example: `dsv3.linear %x, %w` with `%w = dsv3.parameter
    "model.layers.0.self_attn.q_a_proj.weight" : tensor<1536x7168xf8E4M3FN>`
    gets `loc("linear_q_a_proj_fp8"(<its location>))`; a `dsv3.rms_norm`
    whose weight is `...q_a_layernorm.weight` gets `rms_norm_q_a_layernorm`;
    an op without a parameter operand gets its mnemonic. The lowering gives
    every op it creates the location of the op it lowers, so the name
    reaches the loops and kernels (see dsv3-name-kernels). Nothing else
    changes.
  }];
}

def Dsv3OutlineParameters : Pass<"dsv3-outline-parameters", "::mlir::ModuleOp"> {
  let summary = "Turn dsv3.parameter ops into entry arguments";
  let description = [{
    For every public `func.func`, each distinct `dsv3.parameter` name becomes a
    trailing function argument carrying `{dsv3.parameter = "<name>"}`, and every
    use of the op is replaced by it. This is how weights reach a compiled
    module: the runtime binds them by name. Two parameters with the same name
    but different types are an error. Private functions may not read
    parameters.
  }];
}

def Dsv3AnnotateInputBounds : Pass<"dsv3-annotate-input-bounds",
                                   "::mlir::func::FuncOp"> {
  let summary = "Record the valid range of index inputs for the runtime";
  let description = [{
    Marks each entry argument used as an index by a dsv3 op with
    `{dsv3.bounds = {min, max, why}}`, the closed range of values for which
    the op computes what it documents; `dsv3-annotate-abi` copies it into the
    module metadata and the runtime refuses a call whose input leaves it,
    before anything runs. Ranges: `start_pos` of `dsv3.kv_cache_update` and
    `dsv3.mla` in `[0, L - S]` (S new rows, L = max_seq_len); `kv_len` of
    `dsv3.latent_attention` and `dsv3.mla` in `[0, L]`; expert ids of
    `dsv3.expert_dispatch`, `dsv3.expert_combine` and
    `dsv3.expert_bias_update` in `[-1, E - 1]` (-1 = no expert); token ids
    of `dsv3.embedding` in `[0, V - 1]`. An argument
    used by several ops gets the intersection (never empty: every range
    holds 0).
    Operands computed inside the graph are not checked here; the lowering
    masks them so they never become addresses.
  }];
}

def Dsv3AnnotateABI : Pass<"dsv3-annotate-abi", "::mlir::ModuleOp"> {
  let summary = "Record each entry's ABI (names, roles, dtypes, shapes)";
  let description = [{
    Runs on tensor-level IR after `dsv3-outline-parameters`. Records on the
    module the metadata the runtime needs (docs/runtime-abi.md) as the string
    attribute `dsv3.metadata` (JSON), gives each public function
    `llvm.emit_c_interface`, and rejects entry signatures the ABI cannot carry
    (non-tensor arguments or results, dynamic shapes, unsupported dtypes).

    Session state (e.g. the MLA latent KV cache): an argument marked
    `{dsv3.state = "<name>"}` has role `state`, a buffer the runtime owns per
    session and passes to every entry that names it. A result marked with the
    same `dsv3.state` is the state's new value: it is materialized into the
    argument (`bufferization.materialize_in_destination`), so bufferization
    writes the buffer in place and the result is dropped rather than becoming
    an output. Inputs and parameters become read-only
    (`bufferization.writable = false`). Errors: a state result without a
    state argument of that name, of another type, or two results for one
    state. `dsv3.stacked` parameters and `dsv3.bounds` inputs (from
    `dsv3-annotate-input-bounds`) are recorded as the metadata's `stacked`
    and `bounds`. With `target=host` a stacked parameter is also marked
    `dsv3.expert_pointers` (metadata `expert_pointers`): the module takes it
    as a table of E per-expert addresses (`dsv3-host-expert-pointer-tables`).
    `x86-64-level` (e.g. `x86-64-v3`), when given, is recorded as the
    metadata's `x86_64_level`: the CPU level the module's x86 code needs,
    which the runtime checks before it runs anything (a module built for
    AVX-512 on an AVX2 CPU is refused, not killed by an illegal instruction).
    Errors: an `x86-64-level` that is not `x86-64` or `x86-64-v2`..`v4`.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"host\"",
           "Target recorded in the metadata: host or cuda">,
    Option<"x86Level", "x86-64-level", "std::string", /*default=*/"\"\"",
           "x86-64 psABI level the module's code needs (x86-64, x86-64-v2, "
           "-v3, -v4), recorded as x86_64_level; empty: not recorded">
  ];
}

def Dsv3DropStateResults : Pass<"dsv3-drop-state-results",
                                "::mlir::func::FuncOp"> {
  let summary = "Turn bufferized state results into in-place updates";
  let description = [{
    Runs right after one-shot bufferization. Each result marked
    `{dsv3.state = "<name>"}` (tied to its argument by `dsv3-annotate-abi`) is
    removed from the function: the session's buffer, passed as the state
    argument, already holds the new value because bufferization wrote it in
    place. If the returned buffer is another one, it is copied into the
    argument before the return. Upstream `drop-equivalent-buffer-results`
    skips public functions, and entries are public.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def Dsv3ResultsToOutParams : Pass<"dsv3-results-to-out-params",
                                  "::mlir::ModuleOp"> {
  let summary = "Entry results (and static helper results) become out-params";
  let description = [{
    Upstream `buffer-results-to-out-params` (static allocations hoisted, so
    a result computed into a fresh buffer is written straight into the
    caller's), applied to every public function and to private functions
    whose memref results are all statically shaped. A private function that
    returns dynamically shaped buffers (a layer of a prefill over a dynamic
    token count) gets out-params too when it allocates each of them with
    sizes that are dimensions of its arguments (`memref.dim %arg, c`): every
    caller then allocates the buffer with the same dimensions of its
    operands, and no buffer crosses a function boundary upwards, so the
    deallocation pipeline needs no run-time alias check. Otherwise (the size
    is computed inside, the result is a view) it keeps returning them. A
    public entry with a dynamically shaped result (all-token logits of a
    dynamic prefill) gets an out-param of that type, filled by a copy: the
    runtime sizes outputs from the inputs.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

//===----------------------------------------------------------------------===//
// Strategies on dsv3 ops, shared by the targets (lib/Codegen/Common)
//===----------------------------------------------------------------------===//

def Dsv3SplitKVAttention : Pass<"dsv3-split-kv-attention"> {
  let summary = "Split-KV decode attention by tiling the key reduction";
  let description = [{
    Decode attends S <= 16 queries per sequence to a long latent cache: an
    unsplit `dsv3.latent_attention` has only B·S·H independent softmax rows,
    each a reduction over all L keys. Split-KV (FlashDecoding, FlashMLA)
    cuts the keys into N tiles that run independently and merges their
    results by log-sum-exp.

    This pass gets that from upstream's tiling driver, not from a second
    lowering: `scf::tileUsingSCF` tiles the op's key dimension (its
    TilingInterface reduction) with the `PartialReductionOuterParallel`
    strategy into an `scf.forall` over key tiles. Each iteration is the same
    `dsv3.latent_attention` over a slice of the cache, with `start_pos` and
    `kv_len` shifted by the tile's first key, returning its normalised output
    and `lse`; the N partials are merged by a tree of `dsv3.attention_merge`
    (log2 N levels). Numerically this equals the unsplit op up to f32
    rounding of the merge.

    An op is split when its query count is static and at most 16 and its
    cache length L has a divisor `Lc >= min-split-size` with `L / Lc >= 2`;
    the smallest such `Lc` is the tile size (most tiles). Prefill (dynamic
    or more than 16 queries) has parallelism to spare and is left alone, as
    is every op when `min-split-size` is 0.

    Example (L = 4096, min-split-size = 256: 16 tiles of 256 keys):

    ```mlir
    %o = dsv3.latent_attention %q, %qpe, %ckv, %kpe, %start, %len scale(0.135)
        : ... tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, ...
        -> tensor<1x1x128x512xf32>
    // becomes
    %p:2 = scf.forall (%t) = (0) to (4096) step (256)
        shared_outs(%po = %e0, %pl = %e1)
        -> (tensor<16x1x1x128x512xf32>, tensor<16x1x1x128xf32>) {
      ... dsv3.latent_attention ... tensor<1x256x512xbf16> ...
          -> tensor<1x1x128x512xf32>, tensor<1x1x128xf32>
      scf.forall.in_parallel { tensor.parallel_insert_slice ... }
    }
    // 4 levels of dsv3.attention_merge: 8, 4, 2, 1 pairs
    ```
  }];
  let options = [
    Option<"minSplitSize", "min-split-size", "int64_t", /*default=*/"256",
           "Minimum keys per tile (0: never split)">
  ];
  let dependentDialects = [
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::arith::ArithDialect",
    "::mlir::affine::AffineDialect"
  ];
}

//===----------------------------------------------------------------------===//
// dsv3 -> linalg (lib/Conversion)
//===----------------------------------------------------------------------===//

def Dsv3LowerToLinalg : Pass<"dsv3-lower-to-linalg"> {
  let summary = "Lower dsv3 ops to linalg, tensor, arith and math";
  let description = [{
    The executable definition of every dsv3 op. Each op becomes a few
    `linalg.generic`s over tensors whose bodies spell out the spec formula
    (block amax, scale rounding, division, saturating E4M3 cast, f32
    accumulation). `dsv3.parameter` is left alone (see
    `dsv3-outline-parameters`).

    A total conversion: any other dsv3 op left afterwards is an error naming
    it (`no lowering to linalg for 'dsv3.mlp'`; the whole-block ops
    `dsv3.mla`, `dsv3.moe` and `dsv3.mlp` are decomposed by their own passes
    first), not an unknown op for bufferization to fail on.

    `dsv3.latent_attention` has one definition, with or without its `lse`
    result; split-KV decoding is a strategy that tiles it before this pass
    (`dsv3-split-kv-attention`).

    With `bound-by-kv-len`, the plain `dsv3.latent_attention` lowering
    visits only the cache rows below `max_b kv_len[b]` (clamped to
    [0, L]; the rows past it are hidden from every query anyway) through a
    `tensor.extract_slice` of dynamic size, and `dsv3.kv_cache_update`
    inserts the S new rows at `start_pos` (`tensor.insert_slice` under an
    `scf.if` that leaves the cache unchanged when start_pos is outside
    [0, L - S], as the generic form does) instead of rebuilding all L rows:
    a decode step then costs O(kv_len), not O(max_seq_len). The host
    pipeline turns it on; the cuda pipeline keeps static extents (its host
    code cannot read kv_len from device memory to size a launch).
  }];
  let options = [
    Option<"boundByKvLen", "bound-by-kv-len", "bool", /*default=*/"false",
           "Attention and cache update visit only rows below kv_len and "
           "the new rows">
  ];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::affine::AffineDialect"
  ];
}

def Dsv3ExpandFP8Casts : Pass<"dsv3-expand-fp8-casts"> {
  let summary = "Expand FP8 (E4M3FN, E8M0FNU) casts into integer arithmetic";
  let description = [{
    LLVM has no FP8 types, and upstream lowers neither `arith.extf` from nor
    `arith.truncf` to `f8E4M3FN` on the host. This pass rewrites them (scalar or
    vector) into `arith` integer ops on the bit patterns:
    * `extf f8E4M3FN -> f32/f16/bf16`: exact; 0x7F/0xFF give NaN.
    * `truncf f32/f16/bf16 -> f8E4M3FN`: round to nearest even, overflow gives
      NaN exactly like `arith.truncf`'s APFloat semantics (the saturation of
      `dsv3.quantize` is an explicit clamp before the cast).
    * `extf f8E8M0FNU -> f32`: 2^(e-127); 0xFF gives NaN.
    * `truncf f32 -> f8E8M0FNU` of a power of two: the exponent field.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

def Dsv3LowerFP8CastsToNVVM : Pass<"dsv3-lower-fp8-casts-to-nvvm"> {
  let summary = "Lower scalar E4M3 casts in GPU kernels to NVVM cvt ops";
  let description = [{
    Upstream has no NVVM lowering of `arith.truncf`/`arith.extf` with
    `f8E4M3FN`. Inside kernels (run it on `gpu.module`) this pass uses the
    hardware conversions of sm_89+:
    * `truncf f32/f16/bf16 -> f8E4M3FN` becomes
      `nvvm.convert.f32x2.to.f8x2 <rn, satfinite>` (PTX
      `cvt.rn.satfinite.e4m3x2.f32 d, a, b`, which puts `a` in the HIGH byte
      and `b` in the LOW byte of `d`): the value is passed as `b`, zero as
      `a`, and the low byte is kept. Overflow saturates to ±448 (APFloat's
      `truncf` gives NaN); dsv3 clamps to ±448 before every such cast, so the
      two agree there. NaN stays NaN.
    * `extf f8E4M3FN -> f16/f32/bf16` becomes `nvvm.convert.f8x2.to.f16x2`
      (PTX `cvt.rn.f16x2.e4m3x2`) on the byte broadcast to both lanes, lane
      0, then an exact `extf`/`truncf` from f16 when needed.
    Vector casts and E8M0 casts are left for `dsv3-expand-fp8-casts`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::vector::VectorDialect"];
}

//===----------------------------------------------------------------------===//
// Target strategies (lib/Codegen)
//===----------------------------------------------------------------------===//

def Dsv3HostSelectStrategy : Pass<"dsv3-host-select-strategy"> {
  let summary = "Choose each op's host kernel and tile sizes from one table";
  let description = [{
    The host target's strategy table (lib/Codegen/Host/StrategyTable.cpp,
    after IREE's KernelDispatch): for each op family, the first row whose
    condition holds names the kernel that runs the op and its parameters.
    The choice is written on the op as a `dsv3.host_strategy` dictionary,
    which the kernel passes read:

    | op | condition | kernel | parameters (default) |
    |---|---|---|---|
    | `dsv3.linear` | weight-only: FP8 with `weight_scale_inv`, or bf16/f32 without; K a multiple of 8 | `weight_tiles` | `rows_per_task` (32), `decode_tokens` (16), `token_block` (96), `k_chunk_blocks` (4) |
    | `dsv3.moe_gate` | a bf16/f32 gate weight; the hidden size a multiple of 8 | `weight_tiles` (the logits) | as `dsv3.linear` |
    | `dsv3.grouped_matmul` | FP8 with `weight_scale_inv`, offsets from `dsv3.expert_dispatch`; K a multiple of 8 | `weight_tiles` | `rows_per_task` (16), the rest as above |
    | `dsv3.latent_attention` | no `lse` result, static batch, heads and widths, widths multiples of 8, `bound-by-kv-len` | `mqa_tiles` | `key_block` (256) |
    | `linalg.generic` | absorbed MLA's per-head product with a dequantized `kv_b_proj` slice | `absorbed_heads` | none |
    | `dsv3.linear`, `dsv3.grouped_matmul`, `dsv3.latent_attention`, otherwise | | `definition` | none |

    `weight_tiles` is `dsv3-host-vectorize-fp8-linear`: each scf.forall
    iteration takes `rows_per_task` weight rows (for a gate, the router's
    logits become such a linear and the rest of the gate, on the logits,
    keeps its definition); up to `decode_tokens` tokens
    take K in one pass, more go in blocks of `token_block` tokens with K in
    chunks of `k_chunk_blocks` 128-blocks. `mqa_tiles` is
    `dsv3-host-vectorize-latent-attention`, whose weighted sum goes over the
    keys in blocks of `key_block`. `absorbed_heads` is
    `dsv3-host-vectorize-absorbed-heads`. `definition` (and any op without
    a row) is the op's `dsv3-lower-to-linalg` definition, whose parallel
    loops run on an OpenMP team. The parameters change the blocking, not the
    arithmetic of an output element, so any valid choice gives the same
    bits.

    A strategy already on an op (written by hand, to try other tile sizes)
    is kept once it verifies: a known kernel whose condition holds for the
    op, known parameters, each an integer in [1, 2^20] (`decode_tokens` may
    be 0: every token count chunked). A missing parameter takes the table's
    default. Anything else is an error naming the op.

    Example:

    ```mlir
    %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>)
        {dsv3.host_strategy = {kernel = "weight_tiles", rows_per_task = 64 : i64}}
        : (tensor<?x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<?x1536xbf16>
    ```
  }];
  let options = [
    Option<"boundByKvLen", "bound-by-kv-len", "bool", /*default=*/"true",
           "Attention visits only rows below kv_len (false: unbounded key "
           "loops, the definition's form, for dsv3.latent_attention)">
  ];
}

def Dsv3HostVectorizeFP8Linear : Pass<"dsv3-host-vectorize-fp8-linear"> {
  let summary = "Host strategy for weight-only dsv3.linear (FP8, bf16, f32), "
                "FP8 dsv3.grouped_matmul and the router's logits";
  let description = [{
    Which ops it takes, and their tile sizes, come from
    `dsv3-host-select-strategy`: an op whose `dsv3.host_strategy` (or,
    without one, the strategy table's choice) names `weight_tiles`. Strategies
    written on ops are verified first; a bad one is an error.

    Decode-shaped FP8 linears are bound by reading the weight, prefill-shaped
    ones by the FMA units. This host strategy replaces a weight-only
    `dsv3.linear` with an FP8 weight (K a multiple of the vector width) by an
    `scf.forall` over groups of 32 output rows (run on the session's
    threads, see dsv3-host-distribute-parallel-loops). In a group, register
    tiles of 2 rows x 6 tokens (then one tile of the 1 to 5 tokens left, and
    a single row when the count is odd; any M above 16, static or dynamic;
    a statically single token, decode, takes tiles of 8 rows so that 8
    independent FMA chains cover the FMA latency; other counts up to 16 the
    staged tiles below) run a vector loop over each
    128-wide K block: per step, each row's FP8 weight vector is read and
    widened once in registers and each token's activation vector is loaded
    once, feeding 12 accumulators. Each block's lane sum is scaled by
    `weight_scale_inv[n / 128, kb]` and added to the element's running sum
    in an f32 result (narrowed to the result type once, at the end).
    Activations are widened to f32 once, before the loops (`linalg.copy`).

    Cache blocking: up to 16 tokens take all of K in one pass (the weight
    streams once). More tokens go in blocks of 96, each over K in chunks of
    512 (4 quantization blocks), so that the block's activations stay in L2
    while the group's weight rows pass over them; the running sums wait in
    the result between chunks. In each chunk the group's FP8 weights are
    widened once to f32 into a per-thread panel (`memref.alloca` of rows x
    chunk f32, at most 64 KiB: 32 rows x 512 by default, hoisted like the
    staging buffer below; a group that does not fit goes in several panels),
    and the register tiles load them from there: in registers, the four
    widening instructions per weight vector were repeated for every 6-token
    tile. Over a panel the token tiles run outside the row tiles, so a
    token tile's activations stay in L1 while the panel's rows stream from
    L2. Chunks too long for a panel of two rows widen in registers. Every
    output element gets
    the same additions in the same order whatever M, the tiles, the blocks
    or the thread count, so a token's result is the same, bit for bit, in
    any batch.

    Widening: an e4m3 code's sign goes to bit 15 of an f16 and its other 7
    bits to bits 13..7 (`extsi`, `shli 7`, `andi 0xbf80`, `bitcast`,
    `extf` to f32: vpmovsxbw, vpsllw, vpand, vcvtph2ps), which is the code's
    value times 2^-8, exactly, for all 254 finite codes including the
    subnormals; the block scale is multiplied by 2^8 (exact). The two NaN
    codes read as +-480 instead of NaN. A linear of one static token
    (decode) widens in two steps: each 128-wide block of its rows goes to f16 bits, 16 codes
    at a time, in a per-thread buffer (`memref.alloca` of 8 x 128 i16 at
    the top of the forall iteration; dsv3-host-hoist-team-allocas makes it
    one per thread), and the K loop converts them to f32 from there
    (vcvtph2ps from memory, which needs no shuffle port). Same products,
    same order of additions, so the same bits. Any other token count of at
    most 16, static or dynamic (an expert's tokens in a decode-sized grouped
    GEMM, an MTP verify step, a short prompt), uses the same buffer with
    tiles of 8 rows: each block of
    the rows is widened once, then the tokens go in pairs over 4 rows at a
    time (each f16 -> f32 conversion from the buffer feeds two FMAs, 8
    chains), an odd last token over all 8 rows (8 chains), and each token
    adds the block into its running sums in the result; again the same
    additions in the same order. While a tile stages a block, it
    prefetches the same block of the next tile's rows (`memref.prefetch` of
    each 64-byte line, through a read-only `bufferization.to_buffer` view of
    the weight; the one-token tiles of a bf16 or f32 weight in a
    decode-sized call do the same): a tile's rows are short streams side by
    side (V3's `q_b_proj` rows are 1536 bytes, three to a page), which the
    hardware prefetchers follow poorly, and one tile ahead covers the memory
    latency. Every tile sums the lanes of its
    accumulators 8 (then 4) at a time, one per element (a one-token tile's
    rows, or a register tile's (row, token) pairs): shuffles that add two
    accumulators' partial sums per instruction, in the tree LLVM's x86
    lowering gives one `vector.reduction <add>` (lanes i + i+4, then
    i + i+2, then 0 + 1), so the bits are those of a reduction per element
    in fewer instructions; the running sums of those elements are carried
    across blocks as one vector.

    A block-scaled FP8 `dsv3.grouped_matmul` whose offsets come from a
    `dsv3.expert_dispatch` (nondecreasing from 0, so expert e's rows are
    `[offsets[e], offsets[e + 1])`) gets the same kernel inside an
    `scf.forall` over (blocks of 16 output rows, experts): each iteration
    runs expert e's rows in the blocks and tiles above against 16
    contiguous rows of its weight and writes that rectangle; the threads split the row blocks, so
    every routed expert's weight is read once per call whatever its row
    count, and an expert without rows is not read. Rows past `offsets[E]`
    are 0 (the result starts as zeros), as in the definition.

    A weight-only linear with a bf16 or f32 weight (no block scale; e.g. a
    bf16 `lm_head`) gets the same kernel with the weight widened by `extf`
    and the 128-wide block sums added unscaled.

    A `dsv3.moe_gate` whose strategy is `weight_tiles` (a bf16/f32 gate
    weight) is split: its logits `f32(x) . f32(W)^T` become a `dsv3.linear`
    of the gate weight with the gate's strategy, which this pass then runs
    as above, and the gate becomes `dsv3.moe_gate` on those logits (no
    weight operand), whose selection keeps its definition. The definition's
    logits are a scalar contraction that stores its running sum at every
    step: 6.8 % of the time of a 64-token V3 MoE layer.

    `vector-width` is the kernels' f32 lanes: 8 (AVX2, the default) or 16
    (AVX-512; `dsv3-compile` passes 16 for an `--march` with AVX-512, e.g.
    `x86-64-v4`). Tile shapes stay the same; a K that is not a
    multiple of the width takes 8 lanes. At 16 lanes a block's lane sums first
    add each accumulator's two 256-bit halves (lane i + lane i+8), then the
    8-lane tree above, so the bits differ from the 8-lane build's but, within
    one width, do not depend on the tiles, the token count or the threads.

    Same f32 accumulation as the linalg definition; the order of the K sum
    differs (docs/semantics.md §6.3 leaves it open), and the scale is applied
    per 128-element block sum, as DeepSeek's kernels do. The result does not
    depend on the thread count.

    Errors: a `vector-width` that does not divide 128.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes per vector step: 8 (AVX2) or 16 (AVX-512); divides 128">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def Dsv3HostVectorizeAbsorbedHeads
    : Pass<"dsv3-host-vectorize-absorbed-heads"> {
  let summary = "Host strategy for absorbed MLA's per-head products with "
                "kv_b_proj: read the FP8 codes, materialize nothing";
  let description = [{
    Which ops it takes, and their tile sizes, come from
    `dsv3-host-select-strategy`: an op whose `dsv3.host_strategy` (or,
    without one, the strategy table's choice) names `absorbed_heads`. Strategies
    written on ops are verified first; a bad one is an error.

    The absorbed form of `dsv3.mla` (`dsv3-decompose-mla`) multiplies per
    head by slices of `dsv3.dequantize(kv_b_proj)`: `q_abs = Σ_j q_nope[h, j]
    · W_UK[h, j, c]` (over the slice's rows) and `o = Σ_c o_lat[h, c] ·
    W_UV[h, v, c]` (over its columns), each a `linalg.generic` multiply-add
    into zeros. The definition dequantizes the whole weight first (H·(nope+V)
    x C: 33.6 MB of bf16 written and read again per call at V3's shapes)
    and then runs scalar loops.

    This host strategy matches such a contraction (static shapes; operand 1
    an `extract_slice` of rows of every head of an `expand_shape` of a
    `dsv3.dequantize` with 128 x 128 blocks) and replaces it by an
    `scf.forall` that dequantizes in registers: each 8-code vector is
    widened as in `dsv3-host-vectorize-fp8-linear`, multiplied by its block
    scale in f32 (the same single rounding as the definition's product) and
    rounded to the dequantized type, so every weight element has exactly the
    definition's value. `q_abs` runs over (head, 64 columns) with the rows in
    order and fused multiply-adds; `o` over (head, tile of 8 output rows;
    4, 2 or 1 when V is not a multiple of 8) as dot products in vector
    lanes, summed as a tree: the tile's rows share each load of `o_lat` and
    are independent FMA chains. Only the order of the f32
    sums differs from the definition (and the two NaN codes read as ±480).
    The dequantized weight, once unused, is not computed at all.

    Both read the codes ahead with `memref.prefetch` (through a read-only
    `bufferization.to_buffer` view): `q_abs`'s row loop the line 16 rows
    ahead (its rows are C bytes apart, one line each per task), `o` the
    next tile's rows (short rows side by side) before its first token.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def Dsv3HostVectorizeLatentAttention
    : Pass<"dsv3-host-vectorize-latent-attention"> {
  let summary = "Host strategy for dsv3.latent_attention: two MQA-shaped "
                "vector products around linalg.softmax";
  let description = [{
    Which ops it takes, and their tile sizes, come from
    `dsv3-host-select-strategy`: an op whose `dsv3.host_strategy` (or,
    without one, the strategy table's choice) names `mqa_tiles`. Strategies
    written on ops are verified first; a bad one is an error.

    In absorbed MLA all heads attend over one latent cache, so the core of
    `dsv3.latent_attention` is two matrix products with the (query, head)
    pairs as rows. This host strategy replaces the op (static batch, heads,
    `kv_lora_rank` C and rope width R, both multiples of 8) by:

    1. scores `[B, S, H, n]`, n = clamp(max_b kv_len[b], 0, L): an
       `scf.forall` over (sequence, pair of cache rows); per query, register
       tiles of 2 rows x 6 heads (then 4, 2, 1 heads; a lone last row takes
       tiles of 8) accumulate `q_nope · c_kv[t]` and then `q_pe · k_pe[t]`
       in the same vector lanes, each widened cache vector feeding the
       tile's heads and each query vector its rows; the lanes are summed as
       a tree, times `scale`, and hidden keys get -inf (docs/semantics.md
       §10.5);
    2. upstream `linalg.softmax` over the keys, decomposed at once into
       linalg ops (row max, exp of the shifted scores, sum, division);
    3. out `[B, S, H, C]`: an `scf.forall` over (sequence, query, 16
       columns), whose body takes the visible keys
       `t < min(start_pos + i + 1, kv_len)` in blocks of 256 and, per block,
       every tile of 4 heads: fused multiply-adds over the block's keys in
       order into 8 register accumulators, each cache vector read once for
       the 4 heads. The block's cache columns stay in L1 while all heads
       pass over them; the accumulators wait in an f32 result between
       blocks (same bits as one pass), which is rounded once to the result
       type.

    Keys at or past the largest `kv_len` are never visited, and neither are
    keys hidden from a query in the second product, so unwritten cache rows
    (even NaN) do no harm and a query without visible keys gets 0, as in the
    definition. Numerics differ from the definition by the order of the sum
    over the latent dimension and by the fused multiply-add of the weighted
    sum (one rounding instead of two; a visible key whose weight underflows
    to 0 adds 0 times its value, not a skipped 0). The result does not
    depend on the thread count or on how the queries are split into calls.
    An op with an `lse` result (a split-KV tile) keeps the definition. The
    host pipeline runs this pass unless unbounded key loops
    (`--bound-by-kv-len=false`) were asked for.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def Dsv3HostTileAndFuseRows : Pass<"dsv3-host-tile-and-fuse-rows"> {
  let summary = "Tile the definitions' linalg chains by rows and fuse their "
                "producers (upstream TilingInterface)";
  let description = [{
    Runs on linalg on tensors, after `dsv3-lower-to-linalg` and the kernel
    strategies, before bufferization. What the strategy kernels do not take
    keeps its definition: chains of linalg ops such as RMSNorm's sum of
    squares and scaling, softmax's max, exponentials and sum, RoPE, SwiGLU and
    the dtype casts between them. Without this pass every op becomes its own
    OpenMP team that writes its whole result to memory for the next op.

    Walking each function body backwards, every linalg op on tensors whose
    indexing maps have only loops and constants as results (as in every op
    the definitions build, RoPE's pairs read at constant offsets included),
    at the function's top level (not inside a kernel's `scf.forall`), that
    has not been fused into a later one ends a chain. It is tiled by
    `scf::tileConsumerAndFuseProducersUsingSCF` into an `scf.forall` over its
    row loop, tile size 1: the outermost parallel loop that is not
    statically of one iteration. An op whose only such loop is its innermost
    (a `[1, 7168]` elementwise op), an op with a loop of statically zero
    iterations (it computes nothing) and `linalg.fill` are not tiled; the
    team of `dsv3-host-distribute-parallel-loops` splits their loops as
    before.

    A producer joins the tile when it is a linalg op on tensors in the same
    block, each of its results has one use, in the chain, and the tile it
    must compute:
    * moves with every loop of the `scf.forall` (an operand broadcast along
      the rows, such as a weight, is not computed again for every row), and
    * is static and at most 64 KiB: an empty tile of the row's size
      (`tensor.empty` folded through the slice) becomes each thread's
      scratch buffer, which the host pipeline promotes to the stack.
    Tiling does not split any reduction loop, so every element is computed
    by the same operations in the same order: results are bit-identical to
    the untiled definition and independent of the thread count.

    Example: RMSNorm of `[T, 7168]` rows, the sum of squares (a reduction
    into `[T]` from a zero `linalg.fill`) and the scaling:
    ```mlir
    %sum = linalg.generic {iterator_types = ["parallel", "reduction"]}
        ins(%x : tensor<?x7168xbf16>) outs(%zero : tensor<?xf32>) ...
    %y = linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%x, %sum, %w : ...) outs(%e : tensor<?x7168xbf16>) ...
    ```
    becomes one loop over the rows in which the fill, the sum and the
    scaling each compute one row:
    ```mlir
    %y = scf.forall (%i) in (%T) shared_outs(%o = %e) -> (tensor<?x7168xbf16>) {
      %zero1 = linalg.fill ins(%c0 : f32) outs(%t : tensor<1xf32>) -> tensor<1xf32>
      %sum1 = linalg.generic ... outs(%zero1 : tensor<1xf32>) -> tensor<1xf32>
      %y1 = linalg.generic ... -> tensor<1x7168xbf16>
      scf.forall.in_parallel { tensor.parallel_insert_slice %y1 into %o[%i, 0] ... }
    }
    ```
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::affine::AffineDialect",
                           "::mlir::linalg::LinalgDialect"];
}

def Dsv3HostDistributeParallelLoops
    : Pass<"dsv3-host-distribute-parallel-loops"> {
  let summary = "Choose the scf.parallel loops that run on an OpenMP team";
  let description = [{
    Runs on bufferized loops (`convert-linalg-to-parallel-loops`,
    `scf-forall-to-parallel`), before `convert-scf-to-openmp`, which turns
    every remaining `scf.parallel` into `omp.parallel` + `omp.wsloop` run by
    LLVM's libomp with the session's thread count.

    An outermost reduction-free `scf.parallel` becomes a team (one per op)
    unless its body allocates or frees (`memref.alloc`/`realloc`/`dealloc`:
    the module's allocator reports a failure by unwinding the calling
    thread), has a `memref.alloca` other than a fixed-size scratch buffer
    (static shape, only loaded from and stored to: those become one buffer
    per thread, see dsv3-host-hoist-team-allocas), calls a function, or it
    has fewer than
    two iterations in its split dimension by its constant bounds. A team splits one
    dimension, the outermost whose trip count is not statically 1 (a
    `[1, N]` op splits N), statically over the threads; the unit dimensions
    before it take their lower bound and those after it become `scf.for`
    loops inside it, so each thread runs plain
    counted loops that LLVM vectorizes (OpenMP's `collapse` would divide the
    linear index in every iteration). Every other reduction-free
    `scf.parallel` (nested in a team, or not chosen) becomes the `scf.for`
    nest that runs its iterations in the same order (upstream's
    `scf::parallelForToNestedFors`). Loops with reductions are left alone.

    No iteration of a kept loop writes what another reads (that is what a
    parallel linalg dimension or an `scf.forall` means), so results do not
    depend on the thread count.

    Example: a `[1, 7168]` elementwise op's `scf.parallel (%i, %j)` becomes
    a team `scf.parallel (%j)` with `%i` replaced by its lower bound;
    the `scf.parallel` that `convert-linalg-to-parallel-loops` nests inside
    the reduction loop of a reduction-first generic becomes `scf.for`.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def Dsv3HostHoistTeamAllocas
    : Pass<"dsv3-host-hoist-team-allocas", "::mlir::ModuleOp"> {
  let summary = "Fixed-size allocas to the start of their team or function";
  let description = [{
    Runs right after `convert-scf-to-openmp`. A `memref.alloca` of static
    shape whose buffer stays in the execution that allocated it (it, and
    every view of it, is only loaded from and stored to) moves to the start
    of the enclosing `omp.parallel` region, so that each thread of the team
    allocates it once, or, outside a team, to the start of the function.
    It moves only through ops that run their regions in order on one thread
    (`scf.for`, `scf.if`, `scf.while`, `scf.execute_region`,
    `memref.alloca_scope`, `omp.wsloop`, `omp.loop_nest`); inside an
    `scf.forall` or `scf.parallel` (not yet converted), or any other op, it
    stays. The contents of an alloca are undefined at every allocation, so
    no execution can tell its buffer from a fresh one.

    This is for the fixed-size scratch buffers that strategy kernels
    allocate at the top of an `scf.forall` iteration (the FP8 one-token
    tiles' widened weights, dsv3-host-vectorize-fp8-linear). Left where
    they were, they would sit in the `memref.alloca_scope` that
    `convert-scf-to-openmp` wraps each worksharing-loop body in, which
    control-flow lowering cannot take, or, in a serialized loop, take more
    stack at every iteration. `dsv3-host-distribute-parallel-loops` lets a
    team's body hold only such allocas. The emptied scopes fold
    away in the canonicalizer that follows.

    Example:
    ```mlir
    omp.parallel {
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
          memref.alloca_scope {
            %buf = memref.alloca() : memref<8x128xi16>
            ...
          }
          omp.yield
        }
      }
      omp.terminator
    }
    ```
    becomes the same with `%buf = memref.alloca()` as the first op of the
    `omp.parallel` region.
  }];
}

def Dsv3MemRefCopyToLinalg : Pass<"dsv3-memref-copy-to-linalg"> {
  let summary = "Rewrite memref.copy into linalg.copy";
  let description = [{
    Strided `memref.copy` lowers to a call of `memrefCopy` from MLIR's
    `libmlir_c_runner_utils`, which a module must not depend on (modules
    load next to libdsv3rt only). As `linalg.copy` they become loops like the
    rest of the code. With `keep-contiguous` (host), copies between
    identity layouts are left alone: `finalize-memref-to-llvm` turns them
    into `llvm.memcpy`. The cuda pipeline needs every copy as a kernel.
  }];
  let options = [
    Option<"keepContiguous", "keep-contiguous", "bool", /*default=*/"false",
           "Leave copies between identity layouts (llvm.memcpy on host)">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def Dsv3HostExpertPointerTables : Pass<"dsv3-host-expert-pointer-tables",
                                       "::mlir::ModuleOp"> {
  let summary = "Read stacked expert parameters through per-expert addresses";
  let description = [{
    Runs on bufferized IR. A checkpoint stores each expert's weight as its own
    tensor (`model.layers.3.mlp.experts.17.down_proj.weight`), in name order,
    so the E tensors of a stacked parameter `[E, ...]` are not one block of
    memory. Rather than have the runtime gather them (11 GB per DeepSeek-V3
    MoE layer), a host module takes such a parameter as `memref<E x i64>`:
    the address of each expert's `[...]` tensor, row-major, aligned to its
    element size.

    Every entry argument marked `dsv3.expert_pointers` (by
    `dsv3-annotate-abi`) becomes such a table, and so does the argument of
    each private function it is passed to (`func.call`), transitively. Each
    `memref.load %w[%e, %i, ...]` becomes a load of the address `%table[%e]`
    and an `llvm.load` (invariant, naturally aligned) at the linearized
    offset of `[%i, ...]`; an unmasked, in-bounds `vector.transfer_read`
    along the last dimension (the host FP8 strategy's weight reads) becomes
    one `llvm.load` of the vector in the same way, and a `memref.prefetch`
    (the host strategy's prefetch of the next row tile) one
    `llvm.intr.prefetch` of that address, with the same flags. The expert
    index `%e` is taken as given: the lowering of `dsv3.grouped_matmul` and
    its host strategy only load weights of experts `< E`.

    Errors: any other use of such a value (a view, a copy, another vector
    transfer, a call to a function without a body) and a private function
    that receives a table at one call site and a plain buffer at another.

    Example:
    ```mlir
    %v = memref.load %w[%e, %n, %k] : memref<16x32x160xf8E4M3FN>
    ```
    becomes
    ```mlir
    %a = memref.load %table[%e] : memref<16xi64>
    %p = llvm.inttoptr %a : i64 to !llvm.ptr
    %q = llvm.getelementptr %p[%off] : (!llvm.ptr, i64) -> !llvm.ptr, i8
    %b = llvm.load %q invariant : !llvm.ptr -> i8
    %v = arith.bitcast %b : i8 to f8E4M3FN
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect",
                           "::mlir::arith::ArithDialect"];
}

def Dsv3ParallelDimsFirst : Pass<"dsv3-parallel-dims-first"> {
  let summary = "Interchange linalg.generic loops so parallel ones are outermost";
  let description = [{
    `convert-linalg-to-parallel-loops` nests an `scf.for` per reduction
    dimension between `scf.parallel`s when the two kinds interleave (the block
    amax of `dsv3.quantize` iterates [parallel, reduction, parallel,
    reduction]), and `convert-parallel-loops-to-gpu` cannot map such nests.
    Permuting the iteration space so every parallel dimension comes first
    (keeping their relative order, so the innermost parallel dimension still
    walks contiguous memory) gives one `scf.parallel` with the reductions as
    serial loops inside: one GPU thread per output element.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def Dsv3CollapseParallelLoops : Pass<"dsv3-collapse-parallel-loops"> {
  let summary = "Collapse each outermost scf.parallel into one dimension";
  let description = [{
    GPU mapping handles at most three dimensions per level and the tiling
    pass tiles leading dimensions. A single linearized dimension tiles
    uniformly into blocks of threads whatever the rank or the extents, and
    consecutive threads touch consecutive elements of row-major buffers.
    Loops with reductions (`scf.reduce` operands) are left alone.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def Dsv3GPUAlignWorkgroupBuffers
    : Pass<"dsv3-gpu-align-workgroup-buffers", "::mlir::ModuleOp"> {
  let summary = "Align every kernel's shared buffers to 16 bytes";
  let description = [{
    cuda pipeline, after gpu-kernel-outlining: sets `llvm.align = 16` on
    every workgroup attribution of every `gpu.func` (keeping a larger one),
    which upstream's lowering gives the shared-memory global. Without it a
    buffer is aligned to its element type only, and the 16-byte shared
    loads and stores that `dsv3-gpu-map-foralls` emits on an identity layout
    (the tiled GEMM's staged bf16 tiles) could be misaligned.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def Dsv3NameKernels : Pass<"dsv3-name-kernels", "::mlir::ModuleOp"> {
  let summary = "Name GPU kernels after the graph op they run";
  let description = [{
    cuda pipeline, just before gpu-kernel-outlining, which would name every
    kernel of a host function `@f` `@f_kernel` (in `gpu.module @f_kernel`,
    `@f_kernel_0`, ...). For each `gpu.launch`, in program order, the name
    most of its ops carry in their locations (see dsv3-name-op-locations)
    becomes the kernel's: the launch gets `module(@decode_linear_q_a_proj_fp8)
    function(@decode_linear_q_a_proj_fp8)` when it runs that linear in
    `@decode`, and outlining makes `gpu.module @decode_linear_q_a_proj_fp8 {
    gpu.func @decode_linear_q_a_proj_fp8 ... }`. The second kernel from the
    same op is `..._1`, and so on, and a name already taken in the module
    (or by a launch named before) gets the next number. Launches whose ops
    carry no name, or that are named already, keep theirs. The names reach
    the PTX entry points, the fatbins, profilers and the module metadata's
    kernel costs (dsv3-gpu-kernel-costs).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def Dsv3GPUKernelCosts : Pass<"dsv3-gpu-kernel-costs", "::mlir::ModuleOp"> {
  let summary = "Collect each kernel's bytes and flops per launch for the "
                "module metadata";
  let description = [{
    cuda pipeline, after dsv3-name-kernels and before gpu-kernel-outlining.
    A cuda strategy records on its block forall what one launch of its
    kernel moves to or from device memory and computes, as far as it knows
    at compile time, in `dsv3.kernel_cost = {bytes = B : i64, flops = F :
    i64}` (either field may be missing), and dsv3-gpu-map-foralls moves it
    to the `gpu.launch`. This pass removes it from every launch and gathers
    the costs of the named launches into the module's `dsv3.kernel_costs`
    dictionary, by kernel name:

    ```mlir
    module attributes {dsv3.kernel_costs = {decode_linear_q_a_proj_fp8 =
        {bytes = 11061248 : i64, flops = 22020096 : i64}}} { ... }
    ```

    `dsv3-emit-module-abi` writes it into the metadata's `kernels` array,
    from which `dsv3-run --benchmark` turns each kernel's CUDA-event time
    into GB/s and TFLOP/s. Bytes count each tensor the kernel reads or
    writes once (the compulsory traffic; re-reads from L2 are not counted).
    A launch without a name (none of its ops carries one) loses its cost.

    Errors: a cost that is not a non-empty dictionary of non-negative i64
    `bytes` and `flops`; two launches of one kernel name with costs.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def Dsv3GPUDecodeLinear : Pass<"dsv3-gpu-decode-linear"> {
  let summary = "cuda strategy: a warp per weight row for decode-shaped "
                "weight-only dsv3.linear and dsv3.grouped_matmul";
  let description = [{
    Replaces a weight-only `dsv3.linear` with a static token count
    `M <= max-tokens`, and a `dsv3.grouped_matmul` with a static row count
    `R <= max-rows`, both with K a multiple of 16 and a static weight (FP8
    with its block scale, or bf16/f16/f32: every decode-step projection,
    `lm_head`, and the routed experts of a decode step), by a kernel written
    as mapped `scf.forall` ops on tensors:

    * blocks (`#gpu.block`): `dsv3.linear` has one per group of `R` weight
      rows (`R` = the largest of 8, 4, 2, 1 that divides `N`), for all
      tokens; `dsv3.grouped_matmul` one per (group of `R` weight rows,
      routed row `r`), with the weight of the expert whose segment holds `r`
      (a binary search of `offsets`, fixed length `ceil(log2 E)`). A row in no
      segment (before `offsets[0]`, or at or past `offsets[E]`) reads no
      weight and gives 0. Each block has a
      `[R, 32, tokens]` f32 buffer of partial sums
      (`bufferization.alloc_tensor` in the workgroup address space: shared
      memory);
    * phase 1, `(row, lane)` mapped to `(#gpu.thread<y>, #gpu.thread<x>)`:
      a warp per weight row; lane `l` reads the 16 weight elements at
      `k = 16 l + 512 j` (for FP8 one 16-byte load; a warp's loads are 512
      contiguous bytes) and adds `Σ x[t, k..k+16) · w` to a register per
      token. The loop over whole 512-column chunks is unrolled by the
      largest divisor of its trip count up to `8 / tokens` (so that a lane's
      loads are in flight together); the lanes with columns left in a
      partial chunk take one more step. FP8 codes widen exactly
      (`arith.extf`; on cuda `cvt.rn.f16x2.e4m3x2`, see
      dsv3-lower-fp8-casts-to-nvvm), so each weight element is `f32(q) · s`
      rounded once, as in `dsv3.linear`'s definition;
    * phase 2, `(row, token)`: the 32 lane partials of the row, added in lane
      order and rounded to the result type.

    An output element is the definition's sum up to f32 rounding: per lane,
    16-element dot products in order, added chunk by chunk; then the lanes
    in order. For `dsv3.grouped_matmul`, whose definition scales each
    128-wide block's partial sum once, the scale multiplies the weight
    elements instead (distributivity; one more rounding per product). Other
    ops are left to their definitions.

    Epilogue fusion (`fuse-epilogues`, on by default): a `linalg.generic`
    (or an elementwise named op such as `linalg.add`, generalized first)
    with identity maps over `[1, ..., 1, M, N]`, whose body is
    side-effect-free scalar ops that read neither the output nor
    `linalg.index`, and one or two of whose inputs are the only uses of such
    ops (directly or through a `tensor.expand_shape` adding the leading unit
    dimensions; two must have the same kind, input, weight and scale shapes,
    and offsets), becomes one kernel: each block runs phase 1 for each op
    over the same rows and tokens, and phase 2 rounds each sum as its op
    would and applies the generic's body, reading its other inputs at the
    element's coordinates. Later elementwise consumers of the result (one
    use each, possibly through such an `expand_shape`) join as a chain and
    are applied in order. This fuses SwiGLU's `silu(gate) · up` into one
    kernel for `gate_proj` and `up_proj` (routed experts, shared expert,
    dense MLP), the residual add into `o_proj` and `down_proj`, and the
    MoE's `routed + shared` sum and the residual add after it into the
    shared expert's `down_proj`. The values are the unfused kernels' bits.
    A kernel of two ops is named after both
    (`..._gate_proj_fp8_and_up_proj_fp8`). A result only reshaped to
    `[1, ..., 1, M, N]` is written into a collapsed view of that tensor, so
    that returning it copies nothing.

    With `shared-memory=false` the partials are plain memory: the form
    `dsv3-gpu-serialize-threads` runs on the host (`--target=cuda-sim`).

    Example (`M = 1`, `N = 1536`, `K = 7168`, FP8: `q_a_proj` of a decode
    step): 192 blocks of 8 warps; the chunk loop (14 chunks) is unrolled 7
    times; each lane makes 14 16-byte weight loads.
  }];
  let options = [
    Option<"fuseEpilogues", "fuse-epilogues", "bool", /*default=*/"true",
           "Compute an elementwise consumer of two such ops (SwiGLU) in "
           "the kernel">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"16",
           "Largest static token count M of a dsv3.linear the kernel takes">,
    Option<"maxRows", "max-rows", "int64_t", /*default=*/"64",
           "Largest static row count R of a dsv3.grouped_matmul the kernel "
           "takes (a block per row)">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the partial sums in the workgroup address space">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Dsv3GPUTiledGemm : Pass<"dsv3-gpu-tiled-gemm"> {
  let summary = "cuda strategy: shared-memory tiled GEMM for prompt-shaped "
                "block-scaled FP8 dsv3.linear and dsv3.grouped_matmul";
  let description = [{
    Replaces a weight-only `dsv3.linear` `x[M, K] · W[N, K]ᵀ`, and a
    `dsv3.grouped_matmul` with a dynamic row count or at least
    `min-grouped-rows` rows, with an FP8 weight and its block scale,
    bf16/f16/f32 activations of rank 2, static `N` and `K`, `K` a multiple of 8, and at
    most 65535 tiles of 64 weight rows, by one kernel written as mapped
    `scf.forall` ops on tensors. In the cuda pipeline it runs after
    `dsv3-gpu-decode-linear`, so it takes what that one leaves (linears of
    more than 16 tokens or a dynamic count: prompts; a prompt's routed
    experts).

    * blocks (`#gpu.block<x, y>`): `dsv3.linear` has one per (T tokens, 64
      weight rows), a grid of `ceil(M / T)` (dynamic when `M` is) by
      `ceil(N / 64)`, where T is 64 for 2-byte activations and 32 for f32
      ones. `dsv3.grouped_matmul` has one per (expert, T-row tile of its
      segment, 64 weight rows): the experts' tiles are numbered in
      expert order, and each block finds its own by a scan of `offsets`
      (segments clamped to be disjoint and inside `[0, R)`). Each expert adds
      at most one partial tile, so the grid's x extent is `ceil(R / T) + E`
      (0 when `R = 0`); a block past the last tile skips the K loop. The
      result starts as zeros (a `linalg.fill`, its own kernel), which rows
      outside every segment keep;
    * shared memory: the activation tile `[T, 136]`, the weight tile
      `[64, 136]` (rows padded by 8 elements so that the rows a fragment
      load or a half-warp reads at once fall in distinct banks) and the
      tile's running result `[T, 72]` f32: 44544 bytes for 2-byte
      activations, 35328 for f32;
    * per 128-wide K block (one weight-scale block; a shorter last block when
      `K` is not a multiple of 128), a staging phase of 16 x 16 threads
      (`#gpu.thread<y, x>`): thread `(ty, tx)` copies 8 contiguous elements
      of rows `ty + 16i` of each operand tile (rows past the tile and
      columns past `K` repeat valid data that nothing reads); then a
      product phase that adds `Σ_k f32(x[m, k]) · f32(q[n, k])` over the
      block and adds that sum times `weight_scale_inv[(e,) n / 128, kb]` to
      the running result (the first block initializes it):
      * with `tensor-cores` (the default), 2-byte activations and `K` a
        multiple of 16: 8 warps (`#gpu.warp<linear_dim_0>`), warp `w`
        taking tokens `16 (w / 2) ..` and weight rows `32 (w % 2) ..`: per
        16-wide step one `[16, 16]` activation tile and four `[8, 16]`
        weight tiles, widened to f32, and four m16n8k16 `vector.contract`s
        into `[16, 8]` f32 sums (`mma.sync` on cuda through
        `dsv3-gpu-warp-mma`; on cuda-sim they run as written);
      * otherwise (f32 activations, whose products 16-bit tensor-core inputs
        would round): 16 x 16 threads, thread `(ty, tx)` summing in order,
        one fused multiply-add (`math.fma`) per product, for its tokens
        `m = ty + 16i` (i < T / 16) and rows `n = tx + 16j` (j < 4);
    * a last phase rounds each thread's elements into the result.

    Rounding: each element is `Σ_kb s[n/128, kb] · (Σ_{k ∈ kb} x·q)` in f32,
    the block-scaled association of DeepSeek's FP8 GEMMs and of
    `dsv3.grouped_matmul`'s definition; `dsv3.linear`'s definition scales
    every weight element first (`Σ_k x · (q · s)`). The products `x · q` are
    exact in f32 (bf16 or f16 times an FP8 value); on CUDA cores each block
    sum is a chain of fused multiply-adds in k order, on tensor cores the
    order (and the hardware's internal accumulation) of a 16-wide step is
    the mma's. They differ by f32 rounding; tests compare them with float64.
    With `shared-memory=false` the buffers are plain memory
    (`--target=cuda-sim`).

    Not yet: `wgmma` (Hopper's warpgroup MMA, with FP8 operands where the
    activations are quantized), `cp.async` double buffering, and keeping the
    running result in registers rather than shared memory.
  }];
  let options = [
    Option<"minGroupedRows", "min-grouped-rows", "int64_t", /*default=*/"65",
           "Smallest static row count of a dsv3.grouped_matmul the kernel "
           "takes (fewer rows are the decode GEMV's)">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Products of 2-byte activations as warp m16n8k16 contracts "
           "(mma.sync on cuda) instead of per-thread FMAs">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def Dsv3GPURMSNorm : Pass<"dsv3-gpu-rms-norm"> {
  let summary = "cuda strategy: a block of threads per row for dsv3.rms_norm";
  let description = [{
    Replaces a `dsv3.rms_norm` with a static shape of at most `max-rows` rows
    whose last dimension `d` is a multiple of 256 or less than 256 (every
    norm of a DeepSeek model: 7168, 1536, 512) by one kernel written as
    mapped `scf.forall` ops on tensors: a `#gpu.block<x>` per row, and
    `T = min(256, d)` threads in three phases (`#gpu.thread<x>`):

    1. thread `t` sums `f32(x[j])^2` over `j = t, t + T, ...` into a
       shared buffer of `T` partials;
    2. one thread adds the `T` partials in order and computes the row's
       `r = rsqrt(sum / d + eps)` into a one-element shared buffer;
    3. thread `t` writes `y[j] = cast((f32(x[j]) * r) * f32(w[j]))` for its
       columns `j = t, t + T, ...`.

    The scaling rounds as the definition does; the sum of squares differs
    from the definition's serial sum by f32 summation order only. With
    `shared-memory=false` the buffers are plain memory (`--target=cuda-sim`).
    The correct-first mapping of the definition gives a norm 2 or more
    kernels, the first with one thread walking each row serially.
  }];
  let options = [
    Option<"maxRows", "max-rows", "int64_t", /*default=*/"4096",
           "Largest static row count the kernel takes (a block per row)">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Dsv3GPUMoEGate : Pass<"dsv3-gpu-moe-gate"> {
  let summary = "cuda strategy: the MoE router as a linear and one block per token";
  let description = [{
    Replaces a `dsv3.moe_gate` with static shapes, at most `max-tokens`
    tokens and at most 1024 experts (every scoring function and top-k
    method) by:

    1. the logits `u = f32(x) · f32(W)ᵀ` as a `dsv3.linear` of the unscaled
       gate weight with an f32 result (the same sums; `dsv3-gpu-decode-linear`
       then gives it a warp per expert);
    2. one kernel with a block per token (`#gpu.block<x>`) whose phases are
       thread foralls (`#gpu.thread<x>`) with buffers in shared memory:
       - softmax scoring only: one thread takes the row's max (ignoring NaN,
         as `arith.maxnumf`) and Σ exp(u - max) in expert order;
       - a thread per expert: its score `s` (sigmoid, or softmax) and its
         biased key `s + e_score_correction_bias`;
       - a thread per group (when groups are rejected): the sum of its two
         largest keys (noaux_tc) or its largest (group_limited_greedy);
       - a thread per expert: the key it is selected by, `-inf` when its
         group's rank (group score descending, then group index) is at or
         past `topk_group`, and for a NaN key;
       - a thread per expert: its rank in the order (selection key
         descending, then expert index ascending), counted over all experts,
         and its index written at that rank;
       - one thread: the unbiased scores of ranks `0 .. top_k - 1`, divided
         by their sum (in rank order) plus 1e-20 with `norm_topk_prob`, times
         `routed_scaling_factor`, into the token's rows of `weights` and
         `ids`.

    Selection and ties are the definition's (higher key first, then the
    lower group or expert index); the scores' arithmetic is the definition's
    up to the logits' f32 summation order. Because NaN keys rank as `-inf`
    the ranks are always a permutation of the experts, so every id is in
    `[0, E)`. With `shared-memory=false` the buffers are plain memory
    (`--target=cuda-sim`). The definition launches about 20 one-block
    kernels for a router.
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"64",
           "Largest static token count the kernel takes (a block per token)">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Dsv3GPUExpertDispatch : Pass<"dsv3-gpu-expert-dispatch"> {
  let summary = "cuda strategy: expert dispatch as an index block and a row copy";
  let description = [{
    Replaces a `dsv3.expert_dispatch` with static shapes, `1 <= T <=
    max-tokens` tokens, at most 1024 pairs `P = T·K` and at most 1023
    experts by two kernels written as mapped `scf.forall` ops on tensors:

    1. `..._offsets`, one block whose phases are thread foralls
       (`#gpu.thread<x>`):
       - a thread per expert `e`: its count `c_e = #{p : ids[p] = e}` (into
         a buffer in shared memory);
       - a thread per `e` in `[0, E]`: `offsets[e] = Σ_{e' < e}
         align(c_e', alignment)`;
       - `min(R, 256)` threads strided over the rows: `row_to_token = -1`;
       - a thread per pair `p = t·K + k` with an id in `[0, E)`: its row
         `offsets[e] + #{p' < p : ids[p'] = e}`, where it writes `t`;
         other ids write nothing (they are not dispatched).
    2. `..._rows`, a block per row `r` (`#gpu.block<x>`), threads strided
       over the columns: `rows[r] = x[row_to_token[r]]`, or zeros for a
       padding row; values are moved, not converted (FP8 rows stay
       bit-exact).

    The results are the definition's exactly (the same order of pairs in
    each segment, no atomics). The counts cost O(P) per thread, which
    `max-tokens` bounds. With `shared-memory=false` the counts are plain
    memory (`--target=cuda-sim`). The definition launches 13 kernels, most
    of them one block with one thread walking a reduction.
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"64",
           "Largest static token count the kernels take">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Dsv3GPUExpertCombine : Pass<"dsv3-gpu-expert-combine"> {
  let summary = "cuda strategy: expert combine as one kernel";
  let description = [{
    Replaces a `dsv3.expert_combine` with static shapes, `1 <= T <=
    max-tokens` tokens, `1 <= K <= 1024` and `N >= 1` by one kernel (mapped
    `scf.forall` ops on tensors) with a block per (token `t`, tile of `NT`
    columns) (`#gpu.block<x, y>`; `NT` the largest power of two up to 256
    dividing `N`, and at most 65535 tiles, the grid's limit in y):

    - a thread per pair `(t, k)`: its row `offsets[e] + #{p' < t·K + k :
      ids[p'] = e}` in i64 (as the definition adds them), or -1 when the id
      is outside `[0, E)` or the row outside `[0, R)` (into shared memory);
    - a thread per column `c`: `Σ_k w[t, k] · f32(rows[row_k, c])` in f32,
      `k` ascending from 0, skipping the pairs without a row, rounded once
      to the result type.

    The sums are the definition's, in the same order. With
    `shared-memory=false` the rows buffer is plain memory
    (`--target=cuda-sim`).
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"64",
           "Largest static token count the kernel takes">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Dsv3GPUAbsorbedHeads : Pass<"dsv3-gpu-absorbed-heads"> {
  let summary = "cuda strategy: absorbed MLA's per-head kv_b products on FP8 codes";
  let description = [{
    Replaces the two per-head contractions of `dsv3-decompose-mla
    {form=absorbed}` with kv_b_proj (`q_nope · W_UK`, summed over the weight
    slice's rows, and `o_lat · W_UVᵀ`, over its columns; the same matcher as
    `dsv3-host-vectorize-absorbed-heads`) with at most `max-tokens` tokens
    (B·S) by one kernel each that reads the FP8 codes of `dsv3.dequantize`'s
    input and rounds every dequantized element as `dsv3.dequantize` does
    (`f32(code) · scale`, rounded to its result type), so the dequantized
    copy of kv_b_proj is never made:

    - `W_UK`: a block per head (`#gpu.block<x>`); phase 1, thread `(q, x)`
      (`#gpu.thread<y, x>`) sums the rows of split `q` (up to 4 splits,
      while their f32 partials fit 48 KiB of shared memory) for columns
      `8x .. 8x + 7`; phase 2, thread `x` adds the splits in order.
    - `W_UVᵀ`: a block per (8 weight rows, head); phase 1, a warp per row,
      lane `l` takes columns `8l + 256i` and keeps one partial dot product
      per token; phase 2, thread (row, token) adds the 32 lane sums in
      order.

    When the product's only use is an elementwise `linalg.generic` of it
    alone (identity maps, a body of side-effect-free ops on the input: the
    decomposition's rounding of the f32 product to the activation type), the
    kernel applies that body to each sum as it writes and replaces the
    generic too: one kernel instead of two, the same bits, and the f32
    product never written.

    Results equal the definition's up to f32 summation order. With
    `shared-memory=false` the buffers are plain memory (`--target=cuda-sim`).
  }];
  let options = [
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"16",
           "Largest static token count (B·S) the kernels take">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def Dsv3GPUKVCacheUpdate : Pass<"dsv3-gpu-kv-cache-update"> {
  let summary = "cuda strategy: write only the new rows of the latent cache";
  let description = [{
    Replaces a `dsv3.kv_cache_update` with static shapes (`S <= L` new rows)
    by one kernel (mapped `scf.forall` ops on tensors) whose shared outputs
    are the cache operands themselves, so that bufferization writes the
    session's cache in place: a block per new row `(s, b)`
    (`#gpu.block<x, y>`) writes row `start_pos[b] + s` of `c_kv` and of
    `k_pe` (threads strided over the row's columns, each value cast to the
    cache's type through f32). A sequence whose rows would not fit
    (`start_pos < 0` or `start_pos > L - S`) keeps its cache, as the
    definition says: its blocks rewrite rows `0 .. S-1` with their own
    values. The definition is a gather over all `B x L` rows, so the
    correct-first mapping copied the whole cache on every call.

    A `dsv3.rope` whose only use is `new_k_pe` (rows `[B, S, D]`, positions
    `[B, S]` or `[B]`, static) is computed by the kernel as it writes the
    rows: each column's pair rotated by its position and the pair's YaRN
    frequency with the rope definition's own arithmetic
    (`RopeOp::buildRotation`), rounded to the rope's result type, then to
    the cache's. The rope needs no kernel of its own and its result no
    buffer; the values are the unfused kernels' bits.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def Dsv3GPULatentAttention : Pass<"dsv3-gpu-latent-attention"> {
  let summary = "cuda strategy: split-KV decode attention over the latent cache";
  let description = [{
    Replaces a `dsv3.latent_attention` with static shapes, at most
    `max-queries` queries per sequence (`S`: a decode step, or an MTP
    verification chunk), and `C` and `R` multiples of 8 by two kernels
    written as mapped `scf.forall` ops on tensors (FlashMLA's split-KV
    scheme; the scores and the weighted sum on tensor cores where the
    shapes and types allow). The cache's `L` rows are cut into `N = ceil(L / T)` key
    tiles of `T = min(keys-per-block, L)` rows, the `H` heads into groups of
    `HG` (the largest of 16, 8, 4, 2, 1 dividing `H`):

    1. A block per (tile `n`, query `(b, i)`, head group) (`#gpu.block<x, y,
       z>`). `e` is the number of the tile's keys visible to the query
       (`t <= start_pos[b] + i`, `t < kv_len[b]`; keys past it are never
       read). Phase A, with `tensor-cores` (the default) when `HG` is 16,
       `T` a multiple of 64, `L` of 8, `C` and `R` of 16, and the queries
       and caches all bf16 (or all f16): 8 warps (`#gpu.warp<linear_dim_0>`),
       warp `w` taking keys `[w T/8, (w + 1) T/8)` as groups of 8 (cache
       rows clamped below `L - 8`), unless none is visible; per 16 channels
       the heads' `[16, 16]` query tile and an m16n8k16 `vector.contract`
       with each group's `[8, 16]` cache tile (`mma.sync` on cuda through
       `dsv3-gpu-warp-mma`), the sums times the scale into a shared
       `[16, T + 8]` buffer (scores of hidden keys are computed from rows
       below `L` and never used). Otherwise threads `(h, kl)`: the scaled
       scores of head `h` with keys `kl, kl + KT, ...` (8-wide vector
       products over the `C + R` channels) into a shared `[HG, T]` buffer,
       `-inf` where hidden.
       Phase B, a thread per head: `m = max s`, `p = exp(s - m)` in place,
       `1 / Σ p` into shared memory, and the tile's log-sum-exp
       `m + log Σ p` (`-inf` when `e = 0`); with tensor cores, `p` is then
       normalized in place (`p / Σ p`). Phase C into f32 partials
       `[N, B·S, H, C/8, 8]`: with tensor cores (and `C` a multiple of 64),
       8 warps, warp `w` taking channels `[w C/8, (w + 1) C/8)` as n-tiles
       of 8; per 16 visible keys the `[16, 16]` probabilities as three bf16
       terms (`hi = bf16(p)`, `mid = bf16(p - hi)`, `lo = p - hi - mid`,
       whose sum is exactly `p` for `p >= 2^-110`; below, `lo` is subnormal
       and the sum is within 2^-126 of `p`) and, per n-tile, the cache's
       `[8 channels, 16 keys]` tile read transposed, keys at or past `e`
       read as 0 (rows there may hold anything), three m16n8k16 contracts.
       Otherwise threads `(h, x)`: for the channel groups `x, x + X, ...` (8
       channels each), `Σ_t p_t · c_kv[t]` over the visible keys in
       registers, times `1 / Σ p`.
    2. A block per (query, head group): `out = Σ_n w_n o_n / Σ_n w_n` with
       `w_n = exp(lse_n - max_n lse_n)` (`dsv3.attention_merge` over `N`
       parts at once), rounded once to the result type; zeros where no
       tile saw a key; the optional `lse` result is `max + log Σ w`.

    The result equals the definition's up to f32 rounding: the products on
    tensor cores are exact in f32 (bf16 values; `p` as three bf16 terms),
    only the order of the sums and, with tensor cores, the rounding of
    `p / Σ p` before the weighted sum (the definition's order; the CUDA-core
    path scales after it) differ. With
    `shared-memory=false` the buffers between phases are plain memory
    (`--target=cuda-sim`). Other `dsv3.latent_attention` ops (prefill with a
    dynamic query count) keep the definition. Error: `keys-per-block` below 1.
  }];
  let options = [
    Option<"keysPerBlock", "keys-per-block", "int64_t", /*default=*/"256",
           "Cache rows per key tile (a block each); the last tile may be "
           "shorter">,
    Option<"maxQueries", "max-queries", "int64_t", /*default=*/"16",
           "Largest static query count per sequence the kernels take">,
    Option<"sharedMemory", "shared-memory", "bool", /*default=*/"true",
           "Put the buffers between phases in the workgroup address space">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Scores and weighted sum of 16-bit queries and caches as warp "
           "m16n8k16 contracts (mma.sync on cuda) where the shapes allow">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::vector::VectorDialect"];
}

def Dsv3GPUMapForalls : Pass<"dsv3-gpu-map-foralls"> {
  let summary = "Bufferized block/thread scf.forall nests to gpu.launch";
  let description = [{
    cuda pipeline, after bufferization. Each `scf.forall` mapped to
    `#gpu.block<x|y|z>` (bounds from 0, step 1) becomes a `gpu.launch`: the
    grid is its trip counts (x may be dynamic, e.g. a prompt's token tiles;
    y and z static, at most 65535); the block, for each thread
    dimension, the largest extent any `#gpu.thread`-mapped forall inside
    gives it. Its induction variables become `gpu.block_id`s, its
    `memref.alloc`s in the workgroup address space become workgroup
    attributions of the launch (their deallocations go), and the thread
    foralls are mapped by upstream's
    `transform::gpu::mapNestedForallToThreadsImpl`: each phase is predicated
    to its own extent and followed by a `gpu.barrier`. A forall mapped to
    `#gpu.warp<linear_dim_0>` (a warp's collective code, after
    `dsv3-gpu-warp-mma`) takes the block's threads in linear order, 32 per
    warp, like a phase. In-bounds 1-D vector
    reads and writes along a unit-stride dimension become `vector.load`s and
    `vector.store`s, with `alignment = A` where the access covers whole
    units of A = 16 (or 8, or 4) bytes and that alignment is provable: an
    identity layout with rows and the last index multiples of A bytes, or a
    subview of one along its unit-stride last dimension whose last offset is
    also a multiple (min/max of multiples count). The runtime's buffers are
    `cuMemAlloc`ed; shared buffers get 16-byte alignment from
    `dsv3-gpu-align-workgroup-buffers`, which must run after outlining
    wherever this pass runs.

    Errors: a block forall with non-normalized bounds, results (not
    bufferized), more than 3 dimensions, a block id used twice, or a dynamic
    or larger than 65535 extent on y or z; a thread or warp forall with
    dynamic bounds; a warp forall with more warps than the block has (whole
    warps of 32 of its threads); shared memory allocated anywhere but the
    top level of the block forall. Other foralls are left alone.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def Dsv3GPUWarpMma : Pass<"dsv3-gpu-warp-mma"> {
  let summary = "A warp's 2-D vector tiles distributed over its lanes; "
                "m16n8k16 contracts as nvvm.mma.sync";
  let description = [{
    cuda pipeline, after bufferization, before `dsv3-gpu-map-foralls`. A
    bufferized `scf.forall` mapped to `#gpu.warp` holds a warp's collective
    code: 2-D vectors ("tiles", both sides multiples of 8) read from and
    written to memory, elementwise ops on them, and `vector.contract`s. On
    cuda-sim that code runs as written, once per warp
    (`dsv3-gpu-serialize-threads`); here each tile becomes the pieces one
    lane holds in the register layout of PTX's `mma.m16n8k16` fragments: of
    every 8 x 8 block of the tile (blocks taken column by column), lane `l`
    holds row `l / 4`, columns `2 (l % 4)` and `2 (l % 4) + 1`, a
    `vector<2xT>`. That is A's layout for a `[16, 16]` (m, k) tile, B's for
    an `[8, 16]` (n, k) tile and C's for a `[16, 8]` (m, n) tile, so:

    * `vector.transfer_read` / `transfer_write` (in bounds, unmasked, minor
      identity, memref with unit-stride rows) become a `vector.load` /
      `vector.store` per piece, with the alignment of the pair where it is
      provable;
    * a `vector.transfer_read` of the last two memref dimensions transposed
      (an `[n, k]` operand read from a `[k, n]` array), or one that may run
      past a dimension (`in_bounds = false`), becomes two `memref.load`s per
      piece; an element past the dimension is the padding, and its load is
      not executed (`scf.if`);
    * splat constants, broadcasts of scalars and elementwise ops (`arith`;
      a `select` with a scalar condition) act piece by piece;
    * an `scf.for` carrying tiles carries their pieces; an `scf.for` or
      `scf.if` without tile results keeps its form around its distributed
      body;
    * `vector.contract` `[16, 16] (m, k) · [8, 16] (n, k) + [16, 8] f32`
      whose operands are bf16 (or f16) values, or f32 values widened from
      them or from FP8 (`arith.extf`), becomes one `nvvm.mma.sync`
      `m16n8k16.row.col.f32.bf16.bf16.f32` (or `.f16`): the operands are
      narrowed back exactly, the products are exact in f32 either way, and
      only the order of the f32 sums differs from the host's.

    Example (one warp's product of a K step):

    ```mlir
    scf.forall (%w) in (8) {
      %a = vector.transfer_read %xs[%r, %k], %pad {in_bounds = [true, true]}
          : memref<64x136xbf16, 3>, vector<16x16xbf16>
      ...
      %d = vector.contract {...} %af, %bf, %c
          : vector<16x16xf32>, vector<8x16xf32> into vector<16x8xf32>
    } {mapping = [#gpu.warp<linear_dim_0>]}
    ```

    Errors: a warp forall with results; a tile op not listed above (or a
    tile inside another region, or an `scf.if` yielding a tile); a contract
    of another shape, maps, kind or accumulator type, or with an operand
    that does not hold 16-bit or FP8 values.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def Dsv3GPUSerializeThreads : Pass<"dsv3-gpu-serialize-threads"> {
  let summary = "Run the thread foralls of a GPU kernel as serial loops";
  let description = [{
    `--target=cuda-sim`, after bufferization: each bufferized `scf.forall`
    mapped to `#gpu.thread` becomes a serial `scf.for` nest
    (`scf::forallToForLoop`), and so does one mapped to `#gpu.warp`, whose
    body (a warp's collective code on whole tiles) then runs once per warp. A block's threads then run one phase after
    the other: every thread of a phase finishes before the next phase
    starts, which is what the barrier between phases guarantees on a GPU,
    and a phase's threads only communicate through memory the next phase
    reads. Block foralls stay parallel (blocks are independent) and run on
    the host's threads like any other forall.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def Dsv3SerialLoopsToKernels : Pass<"dsv3-serial-loops-to-kernels"> {
  let summary = "Wrap serial host loops that touch memory in a unit scf.parallel";
  let description = [{
    cuda pipeline, after linalg became loops: a linalg op whose parallel
    dimensions are all 1 (a reduction over a single row, e.g. `rms_norm` of
    one decode token) leaves a serial `scf.for` (or a lone `memref.store`)
    in host code once the unit `scf.parallel` is folded. Each such loop or
    store outside any `scf.parallel` goes back into a one-iteration
    `scf.parallel`, which becomes a kernel with one active thread, so host
    code never touches device memory. Loops that contain an `scf.parallel`
    are left alone, and so are loops and stores that only touch host-only
    buffers (the deallocation pipeline's alias check, see
    `dsv3-host-allocs-to-gpu`); a buffer that a kernel touches is a device
    buffer, so the decision is iterated until it is stable. Runs on the
    module.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def Dsv3HostAllocsToGPU : Pass<"dsv3-host-allocs-to-gpu"> {
  let summary = "Make host-side buffers device buffers; reject host accesses";
  let description = [{
    In a cuda module every entry argument is device memory
    (docs/runtime-abi.md) and all computation runs in kernels. Temporaries the
    host code allocates (`memref.alloc`/`memref.alloca` outside `gpu.launch`
    and `gpu.module`) are therefore kernel operands and become `gpu.alloc`
    (and `memref.dealloc` becomes `gpu.dealloc`), in their synchronous form;
    `gpu-async-region` then chains them on the entry's stream. Any remaining
    `memref.load`/`memref.store` in host code would dereference device
    memory on the host: the pass reports it as an error instead of producing
    a module that crashes.

    One kind of buffer stays on the host: the run-time alias check that the
    buffer deallocation pipeline emits when a function returns buffers of
    unknown aliasing (addresses and ownership flags in small `index`/`i1`
    buffers, read by a private helper in host loops). A buffer is host-only
    when every use, through views, casts and calls into private functions
    whose every caller passes a host-only buffer, is a host-side load, store,
    dealloc, `memref.dim` or address extraction. Runs on the module.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def Dsv3GPUSinkConstantGlobals
    : Pass<"dsv3-gpu-sink-constant-globals", "::mlir::ModuleOp"> {
  let summary = "Move constant tables that kernels read into the kernels";
  let description = [{
    cuda pipeline, before gpu-kernel-outlining. Bufferization makes a
    constant tensor (e.g. the YaRN frequencies of `dsv3.rope`'s definition)
    a `memref.global` of the module and a `memref.get_global` in host code;
    a `gpu.launch` that reads it would receive the host address, which the
    GPU cannot dereference. The pass sinks every `memref.get_global` of a
    constant global into each launch that uses it, so that outlining copies
    the global into the kernel's `gpu.module`, where it becomes initialized
    device memory (a PTX `.global` array read with `ld.global.nc`).

    Error: a kernel that uses a mutable global (host memory the host code
    may write).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

//===----------------------------------------------------------------------===//
// Module ABI (lib/Target)
//===----------------------------------------------------------------------===//

def Dsv3MarkGlueFunctions : Pass<"dsv3-mark-glue-functions",
                                 "::mlir::ModuleOp"> {
  let summary = "Compile functions that only call others without optimization";
  let description = [{
    Runs on LLVM-dialect IR. A function without loops (its blocks branch
    forward only) holding at least `min-calls` direct calls (an imported model's
    entry: embedding, one call per layer, head) gets the LLVM attributes
    `noinline optnone`. Optimizing such a function gains nothing, but with
    every memref passed as its descriptor's scalars it is a basic block of
    ~100k values at 61 layers, and -O3's SelectionDAG instruction selection
    is superlinear in a block's size (minutes for DeepSeek-V3).
    `dsv3-compile` compiles marked functions at -O0 in a unit of their own,
    in blocks of bounded size (where FastISel gives up, SelectionDAG then
    selects a block at a time), so compile time no longer grows faster than
    depth. Functions with loops are never marked.
  }];
  let options = [
    Option<"minCalls", "min-calls", "int64_t", /*default=*/"1",
           "Calls a loop-free function needs to be marked">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def Dsv3EmitModuleABI : Pass<"dsv3-emit-module-abi", "::mlir::ModuleOp"> {
  let summary = "Emit the module ABI: metadata, version and uniform entries";
  let description = [{
    Runs on LLVM-dialect IR, after `convert-func-to-llvm` produced the
    `_mlir_ciface_<name>` wrappers of every entry. Emits the exported
    functions of docs/runtime-abi.md: `dsv3_module_abi_version`,
    `dsv3_module_metadata` (returning the JSON that `dsv3-annotate-abi` put in
    the module's `dsv3.metadata` attribute) and, per entry,
    `void dsv3_entry_<name>(void **args)` that loads each descriptor pointer
    from `args` and calls the C wrapper. Everything else gets hidden
    visibility, so a module exports the ABI and nothing more.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // DSV3_PASSES_TD
