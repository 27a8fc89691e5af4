//===- Dsv3MoEOps.td - DeepSeekMoE ops ---------------------*- tablegen -*-===//
//
// Router and load-balancing ops of the MoE layer (docs/semantics.md §11-§13).
// Included from Dsv3Ops.td, which defines Dsv3_Op.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_MOE_OPS_TD
#define DSV3_MOE_OPS_TD

def Dsv3_ScoringFunc : I32EnumAttr<"ScoringFunc",
    "router score function (HF `scoring_func`)", [
      I32EnumAttrCase<"sigmoid", 0>,
      I32EnumAttrCase<"softmax", 1>
    ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_TopkMethod : I32EnumAttr<"TopkMethod",
    "how a router ranks expert groups (HF `topk_method`)", [
      I32EnumAttrCase<"greedy", 0>,
      I32EnumAttrCase<"group_limited_greedy", 1>,
      I32EnumAttrCase<"noaux_tc", 2>
    ]> {
  let cppNamespace = "::mlir::dsv3";
}

//===----------------------------------------------------------------------===//
// dsv3.moe_gate
//===----------------------------------------------------------------------===//

def Dsv3_MoEGateOp : Dsv3_Op<"moe_gate", [Pure, AttrSizedOperandSegments]> {
  let summary = "DeepSeek MoE router: group-limited top-k over expert scores";
  let description = [{
    Routes each of T tokens to `top_k` of E experts (docs/semantics.md §12.1 for
    V3, §12.2 for V2/V2-Lite). Everything is computed in f32 (the Hugging Face
    order: `x` and the gate weight are widened first):

    ```
    u  = f32(x) · f32(W)ᵀ                                  [T, E]
    s  = sigmoid(u) | softmax(u) over E                     (scoring_func)
    s~ = s + e_score_correction_bias                        (selection only)
    G_g = sum of the 2 largest s~ in group g                (noaux_tc)
        | max of s~ in group g                              (group_limited_greedy)
    keep the topk_group groups with the largest G_g; s~ = -inf elsewhere
    idx = top_k experts by s~                               (greedy: no groups)
    w   = s[idx]                                            (UNBIASED scores)
    w   = w / (Σ_k w + 1e-20)                               (norm_topk_prob only)
    w   = w · routed_scaling_factor                         (always)
    ```

    Groups are `n_group` runs of E / n_group contiguous experts. Rejected
    groups are masked with −inf (DeepSeek's reference since 1398800; Hugging
    Face uses 0.0, which can select an expert of a rejected group when kept
    biased scores are negative). The 1e-20 of the renormalisation is Hugging
    Face's guard against all-underflowed scores; it changes no f32 result
    otherwise.

    Ties are broken deterministically (PyTorch's `topk` leaves them
    unspecified): a higher score ranks first, then the lower group or expert
    index. `ids[t, j]` is the expert of rank j, so each row lists its experts
    in descending selection score. NaN scores leave the selection
    unspecified but every id stays in [0, E).

    Shapes and dtypes: `x` [T, H] and the gate weight [E, H] in bf16, f16 or
    f32; the bias [E] f32; results `weights` [T, top_k] f32 and `ids`
    [T, top_k] i32.

    Without the weight operand, the input is the logits `u` [T, E] (f32)
    themselves and the op is the rest of the router, as vLLM's top-k over
    given router logits: a strategy that runs `u` as a `dsv3.linear` of the
    gate weight (the host's `dsv3-host-vectorize-fp8-linear`) leaves this
    form. `dsv3.linear` sums in its own order, so the two forms agree up to
    the rounding of `u`.

    Errors: ranks other than x:2, weight:2, bias:1; a dynamic dimension other than a token dimension; hidden
    size mismatch; logits (no weight) not f32; bias not [E]; results not [T, top_k]; top_k not in
    [1, E]; n_group not a positive divisor of E; topk_group not in
    [1, n_group]; top_k larger than the experts of the kept groups; greedy
    with n_group or topk_group other than 1; noaux_tc with groups of fewer
    than 2 experts; a non-positive or non-finite routed_scaling_factor.

    Example (DeepSeek-V3):

    ```mlir
    %w, %ids = dsv3.moe_gate %x, %gw bias(%b : tensor<256xf32>)
        scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8)
        topk_group(4) norm_topk_prob routed_scaling_factor(2.5)
        : (tensor<4x7168xbf16>, tensor<256x7168xbf16>)
        -> tensor<4x8xf32>, tensor<4x8xi32>
    // The same router on logits u = dsv3.linear %x, %gw : [4, 256] f32.
    %w2, %ids2 = dsv3.moe_gate %u bias(%b : tensor<256xf32>)
        scoring_func(sigmoid) topk_method(noaux_tc) top_k(8) n_group(8)
        topk_group(4) norm_topk_prob routed_scaling_factor(2.5)
        : (tensor<4x256xf32>) -> tensor<4x8xf32>, tensor<4x8xi32>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input,
                   Optional<Dsv3_FloatTensor>:$weight,
                   Optional<RankedTensorOf<[F32]>>:$e_score_correction_bias,
                   Dsv3_ScoringFunc:$scoring_func,
                   Dsv3_TopkMethod:$topk_method,
                   ConfinedAttr<I64Attr, [IntPositive]>:$top_k,
                   DefaultValuedAttr<I64Attr, "1">:$n_group,
                   DefaultValuedAttr<I64Attr, "1">:$topk_group,
                   UnitAttr:$norm_topk_prob,
                   DefaultValuedAttr<F32Attr, "1.0">:$routed_scaling_factor);
  let results = (outs RankedTensorOf<[F32]>:$weights,
                  RankedTensorOf<[I32]>:$ids);
  let assemblyFormat = [{
    $input (`,` $weight^)?
    (`bias` `(` $e_score_correction_bias^ `:`
     type($e_score_correction_bias) `)`)?
    `scoring_func` `(` $scoring_func `)`
    `topk_method` `(` $topk_method `)`
    `top_k` `(` $top_k `)`
    (`n_group` `(` $n_group^ `)`)?
    (`topk_group` `(` $topk_group^ `)`)?
    (`norm_topk_prob` $norm_topk_prob^)?
    (`routed_scaling_factor` `(` $routed_scaling_factor^ `)`)? attr-dict
    `:` `(` type($input) (`,` type($weight)^)? `)` `->` type($weights) `,`
    type($ids)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.expert_bias_update
//===----------------------------------------------------------------------===//

def Dsv3_ExpertBiasUpdateOp : Dsv3_Op<"expert_bias_update", [Pure]> {
  let summary = "auxiliary-loss-free load balancing step of the router bias";
  let description = [{
    One training-step update of `e_score_correction_bias` (docs/semantics.md
    §12.4): with `c_i` the number of (token, slot) pairs of `ids` [T, K] routed
    to expert i and the mean load `c̄ = K·T / E`,

    ```
    b_i ← b_i + γ · sign(c̄ − c_i)
    ```

    so an overloaded expert's bias decreases, an underloaded one's increases
    and an exactly balanced one's is unchanged. The comparison is exact: it is
    made in integers as `sign(K·T − E·c_i)` (64-bit), so a fractional mean
    never rounds a balanced expert into a move. Ids outside [0, E) count for
    no expert (−1 means "no expert" in DeepEP).

    Shapes and dtypes: ids [T, K] i32, bias [E] f32, result [E] f32; `gamma`
    (γ, 0.001 in DeepSeek-V3 training) an f32 attribute.

    Errors: ids not rank 2 or bias not rank 1; a dynamic dimension other than a token dimension; result type
    differs from the bias type; a negative or non-finite gamma.

    Example:

    ```mlir
    %nb = dsv3.expert_bias_update %ids, %b gamma(1.0e-03)
        : (tensor<4x8xi32>, tensor<256xf32>) -> tensor<256xf32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$ids,
                   RankedTensorOf<[F32]>:$bias, F32Attr:$gamma);
  let results = (outs RankedTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $ids `,` $bias `gamma` `(` $gamma `)` attr-dict
    `:` `(` type($ids) `,` type($bias) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.expert_dispatch
//===----------------------------------------------------------------------===//

def Dsv3_ExpertDispatchOp : Dsv3_Op<"expert_dispatch", [Pure]> {
  let summary = "permute token rows into per-expert contiguous, aligned groups";
  let description = [{
    The gather half of docs/semantics.md §13.1 in DeepGEMM's contiguous layout
    (§13.2). Each routed pair p = t·K + k with expert e = ids[t, k] in [0, E)
    gets one row of `rows`; expert e owns rows
    `offsets[e] .. offsets[e] + c_e − 1`, in increasing p, where c_e is its
    number of pairs and

    ```
    offsets[e] = Σ_{e' < e} align(c_e', alignment)      offsets[E] = total
    rows[offsets[e] + i] = x[t of the i-th pair of e]
    row_to_token[r]      = that t, or −1 for a padding row
    ```

    Padding rows (the tail of each expert's aligned segment and every row
    from `offsets[E]` to R) are zeros with token −1, so a grouped GEMM over
    them is well defined and block scales of an FP8 activation stay regular.
    An expert without tokens has an empty segment. Ids outside [0, E) (−1 is
    DeepEP's "no expert") are not dispatched, never used as addresses; when
    `ids` is an entry input, the runtime refuses a call with an id outside
    [−1, E) before anything runs (`dsv3-annotate-input-bounds`).

    R is the upper bound T·K + E·(alignment − 1) of the rows used (dynamic
    when T is).
    Offsets and row indices are 64-bit.

    Shapes and dtypes: x [T, H] (bf16, f16, f32 or f8E4M3FN), ids [T, K] i32;
    results rows [R, H] of x's dtype, offsets [E + 1] i64, row_to_token [R]
    i64.

    Errors: ranks other than x:2, ids:2; a dynamic dimension other than a token dimension; ids and x with
    different T; alignment < 1; rows not [T·K + E·(alignment − 1), H] with
    x's element type; offsets not rank 1 with at least 2 elements;
    row_to_token not [R].

    Example (8 routed experts out of 256, DeepGEMM's 128-row alignment):

    ```mlir
    %rows, %offsets, %tok = dsv3.expert_dispatch %x, %ids alignment(128)
        : (tensor<4x7168xbf16>, tensor<4x8xi32>)
        -> tensor<32544x7168xbf16>, tensor<257xi64>, tensor<32544xi64>
    ```
  }];
  let arguments = (ins RankedTensorOf<[BF16, F16, F32, F8E4M3FN]>:$input,
                   RankedTensorOf<[I32]>:$ids,
                   ConfinedAttr<I64Attr, [IntPositive]>:$alignment);
  let results = (outs RankedTensorOf<[BF16, F16, F32, F8E4M3FN]>:$rows,
                  RankedTensorOf<[I64]>:$offsets,
                  RankedTensorOf<[I64]>:$row_to_token);
  let assemblyFormat = [{
    $input `,` $ids `alignment` `(` $alignment `)` attr-dict
    `:` `(` type($input) `,` type($ids) `)` `->` type($rows) `,`
    type($offsets) `,` type($row_to_token)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.grouped_matmul
//===----------------------------------------------------------------------===//

def Dsv3_GroupedMatmulOp : Dsv3_Op<"grouped_matmul", [Pure]> {
  let summary = "M-grouped GEMM: each row block times its expert's weight";
  let description = [{
    DeepGEMM's contiguous-layout grouped GEMM (docs/semantics.md §13.3):
    `D[r, n] = Σ_k f32(A[r, k]) · w_e[n, k]` where e is the expert whose
    segment `offsets[e] <= r < offsets[e + 1]` holds r, and w_e is
    `f32(W[e, n, k])`, or for an FP8 weight the block-scaled sum
    `Σ_kb weight_scale_inv[e, n / 128, kb] · Σ_{k in block kb}
    f32(A[r, k]) · f32(W[e, n, k])` (weight-only dequantization in f32: each
    128-wide block's partial sum, accumulated in any order, is scaled once).
    Accumulated in f32 and rounded once to the result type. Rows outside
    every segment (r >= offsets[E], the unused tail, and r < offsets[0]) are
    0 and read no weight, so an expert no row is routed to is never read. Row and expert
    indices are 64-bit.

    Shapes and dtypes: A [R, K] bf16/f16/f32; W [E, N, K] bf16/f16/f32 or
    f8E4M3FN with weight_scale_inv [E, ceil(N/128), ceil(K/128)] f32;
    offsets [E + 1] i64; result [R, N] bf16 or f32.

    Errors: ranks other than A:2, W:3, offsets:1; a dynamic dimension other than a token dimension; K mismatch;
    offsets not [E + 1]; result not [R, N]; a weight scale on a non-FP8
    weight or a missing one on an FP8 weight; a scale shape other than
    [E, ceil(N/128), ceil(K/128)].

    Example (V3 routed experts' gate_proj stacked):

    ```mlir
    %h = dsv3.grouped_matmul %rows, %w, %offsets
        weight_scale_inv(%s : tensor<256x16x56xf32>)
        : (tensor<32544x7168xbf16>, tensor<256x2048x7168xf8E4M3FN>,
           tensor<257xi64>) -> tensor<32544x2048xf32>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input,
                   RankedTensorOf<[BF16, F16, F32, F8E4M3FN]>:$weight,
                   RankedTensorOf<[I64]>:$offsets,
                   Optional<RankedTensorOf<[F32]>>:$weight_scale_inv);
  let results = (outs RankedTensorOf<[BF16, F32]>:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $offsets
    (`weight_scale_inv` `(` $weight_scale_inv^ `:` type($weight_scale_inv) `)`)?
    attr-dict `:` `(` type($input) `,` type($weight) `,` type($offsets) `)`
    `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.expert_combine
//===----------------------------------------------------------------------===//

def Dsv3_ExpertCombineOp : Dsv3_Op<"expert_combine", [Pure]> {
  let summary = "weighted sum of each token's expert rows back into token order";
  let description = [{
    The combine half of docs/semantics.md §13.1 (§13.4; DeepEP's low-latency,
    weighted combine): `y[t, n] = Σ_k w[t, k] · rows[row(t, k), n]`, summed over
    k in increasing order in f32 and rounded once to the result type.
    `row(t, k)` is the row `dsv3.expert_dispatch` gave pair (t, k) for the same
    `ids` and `offsets`:
    `offsets[e] + #{pairs p' < t·K + k with ids = e}`. Pairs whose id is
    outside [0, E), or whose row falls outside `rows` (offsets from another
    dispatch), contribute nothing. Each output element is a gather of K
    rows, so no atomics or write conflicts arise on any target.

    Shapes and dtypes: rows [R, N] bf16/f16/f32, ids [T, K] i32, weights
    [T, K] f32, offsets [E + 1] i64; result [T, N] bf16 or f32.

    Errors: ranks other than rows:2, ids:2, weights:2, offsets:1; a dynamic
    dimension other than a token dimension; weights not the shape of ids; offsets with fewer than 2
    elements; result not [T, N].

    Example:

    ```mlir
    %y = dsv3.expert_combine %out, %ids, %w, %offsets
        : (tensor<32544x7168xbf16>, tensor<4x8xi32>, tensor<4x8xf32>,
           tensor<257xi64>) -> tensor<4x7168xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$rows, RankedTensorOf<[I32]>:$ids,
                   RankedTensorOf<[F32]>:$weights,
                   RankedTensorOf<[I64]>:$offsets);
  let results = (outs RankedTensorOf<[BF16, F32]>:$result);
  let assemblyFormat = [{
    $rows `,` $ids `,` $weights `,` $offsets attr-dict
    `:` `(` type($rows) `,` type($ids) `,` type($weights) `,` type($offsets)
    `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.moe
//===----------------------------------------------------------------------===//

def Dsv3_MoEOp : Dsv3_Op<"moe", [Pure]> {
  let summary = "a whole DeepSeekMoE layer that reads its weights by HF name";
  let description = [{
    The MoE feed-forward of one decoder layer (docs/semantics.md §11.2, §12,
    §13) in the form an importer writes: the hyper-parameters are the Hugging
    Face config keys and the weights are not operands but read by their
    checkpoint names under `prefix` (for example `model.layers.3.mlp`, no
    trailing dot):

    ```
    <prefix>.gate.weight                                 [E, H]
    <prefix>.gate.e_score_correction_bias                [E] f32 (noaux_tc only)
    <prefix>.experts.<e>.{gate,up}_proj.weight           [I, H]   e in [0, E)
    <prefix>.experts.<e>.down_proj.weight                [H, I]
    <prefix>.shared_experts.{gate,up}_proj.weight        [S·I, H] (S > 0 only)
    <prefix>.shared_experts.down_proj.weight             [H, S·I]
    ```

    with E = `n_routed_experts`, I = `moe_intermediate_size`,
    S = `n_shared_experts`. With `weight_type` f8E4M3FN every projection
    weight (not the router's) has a `<name>_scale_inv` companion
    (`...down_proj.weight_scale_inv`, f32 [ceil(N/128), ceil(K/128)],
    docs/semantics.md §3.1) and the router weight is bf16, as in the V3
    checkpoint; otherwise every weight, the router's included, is
    `weight_type`. The per-expert tensors are taken one by one, as the
    checkpoint stores them: stacking them for the grouped GEMM is the
    compiler's job (`--dsv3-decompose-moe`).

    Semantics (docs/semantics.md §11.2):

    ```
    w, ids = dsv3.moe_gate(x)                  (scoring_func, topk_method, ...)
    FFN_e(x) = down_e · (silu(gate_e · x) ⊙ (up_e · x))
    y = Σ_k w[t, k] · FFN_ids[t, k](x_t)  +  Shared(x_t)
    ```

    where Shared is one SwiGLU of width S·I (absent when S = 0) that
    `routed_scaling_factor` never multiplies. Projections accumulate in f32;
    the SwiGLU, the weighted sum over k (increasing k) and the shared
    expert's addition are f32, rounded once to the result type (Hugging
    Face's order for f32 models; a bf16 HF model also rounds the expert
    hidden states to bf16). `alignment` is the row alignment of each expert's
    segment in the grouped GEMM (`dsv3.expert_dispatch`; DeepGEMM uses 128);
    it changes no result.

    Shapes and dtypes: x [T, H] bf16/f16/f32; result [T, H] bf16 or f32.

    Errors: x not rank 2 or with a dynamic hidden size; result not [T, H]; an empty prefix or
    one ending in '.'; num_experts_per_tok above n_routed_experts; n_group
    not a positive divisor of n_routed_experts; topk_group not in
    [1, n_group]; num_experts_per_tok above the experts of the kept groups;
    greedy with groups; noaux_tc with fewer than 2 experts per group; a
    non-positive or non-finite routed_scaling_factor; a negative
    n_shared_experts; a weight_type other than bf16, f16, f32, f8E4M3FN.

    Example (DeepSeek-V3, layers 3..60):

    ```mlir
    %y = dsv3.moe %x prefix("model.layers.3.mlp") n_routed_experts(256)
        num_experts_per_tok(8) n_group(8) topk_group(4) topk_method(noaux_tc)
        scoring_func(sigmoid) norm_topk_prob routed_scaling_factor(2.5)
        moe_intermediate_size(2048) n_shared_experts(1) weight_type(f8E4M3FN)
        alignment(128) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, StrAttr:$prefix,
                   ConfinedAttr<I64Attr, [IntPositive]>:$n_routed_experts,
                   ConfinedAttr<I64Attr, [IntPositive]>:$num_experts_per_tok,
                   DefaultValuedAttr<I64Attr, "1">:$n_group,
                   DefaultValuedAttr<I64Attr, "1">:$topk_group,
                   Dsv3_TopkMethod:$topk_method,
                   Dsv3_ScoringFunc:$scoring_func,
                   UnitAttr:$norm_topk_prob,
                   DefaultValuedAttr<F32Attr, "1.0">:$routed_scaling_factor,
                   ConfinedAttr<I64Attr, [IntPositive]>:$moe_intermediate_size,
                   DefaultValuedAttr<I64Attr, "0">:$n_shared_experts,
                   TypeAttr:$weight_type,
                   DefaultValuedAttr<ConfinedAttr<I64Attr, [IntPositive]>,
                       "128">:$alignment);
  let results = (outs RankedTensorOf<[BF16, F32]>:$result);
  let assemblyFormat = [{
    $input `prefix` `(` $prefix `)`
    `n_routed_experts` `(` $n_routed_experts `)`
    `num_experts_per_tok` `(` $num_experts_per_tok `)`
    (`n_group` `(` $n_group^ `)`)?
    (`topk_group` `(` $topk_group^ `)`)?
    `topk_method` `(` $topk_method `)`
    `scoring_func` `(` $scoring_func `)`
    (`norm_topk_prob` $norm_topk_prob^)?
    (`routed_scaling_factor` `(` $routed_scaling_factor^ `)`)?
    `moe_intermediate_size` `(` $moe_intermediate_size `)`
    (`n_shared_experts` `(` $n_shared_experts^ `)`)?
    `weight_type` `(` $weight_type `)`
    (`alignment` `(` $alignment^ `)`)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True when the projection weights are FP8 with `_scale_inv` blocks.
    bool hasFP8Weights() { return isa<Float8E4M3FNType>(getWeightType()); }
    /// The router weight's dtype: bf16 beside FP8 experts (the V3
    /// checkpoint does not quantize it), else the experts' dtype.
    Type getRouterWeightType();
    /// `<prefix>.<suffix>`, the HF checkpoint name of one of its weights.
    std::string weightName(llvm::StringRef suffix) {
      return (getPrefix() + "." + suffix).str();
    }
  }];
}

#endif // DSV3_MOE_OPS_TD
