//===- Dsv3AttentionOps.td - multi-head latent attention ---*- tablegen -*-===//
//
// RoPE/YaRN, the latent-cache attention core and the latent cache update of
// DeepSeek's multi-head latent attention (docs/semantics.md §8-§10). Included
// from Dsv3Ops.td.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_ATTENTION_OPS_TD
#define DSV3_ATTENTION_OPS_TD

def Dsv3_RopeLayout : I32EnumAttr<"RopeLayout",
    "which elements dsv3.rope rotates together (docs/semantics.md §8.2)", [
      I32EnumAttrCase<"interleaved", 0>,
      I32EnumAttrCase<"half", 1>
    ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_IndexTensor : RankedTensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// dsv3.rope
//===----------------------------------------------------------------------===//

def Dsv3_RopeOp : Dsv3_Op<"rope", [Pure]> {
  let summary = "rotary position embedding with optional YaRN correction";
  let description = [{
    Rotates the decoupled rope part `x` (`q_pe` or `k_pe`, rotary dim `D`) of
    every token by the angles of its absolute position (docs/semantics.md §8,
    §9). `positions` (i32 or i64) has shape `[T]` or `[B, T]`, and `x` is
    `positions.shape ++ [D]` or `positions.shape ++ [H, D]` (one position for
    all heads). `D` is even.

    Frequencies, for `i = 0 .. D/2-1`:

    ```
    f_i   = theta^(-2i/D)
    f'_i  = f_i · ((1 - ramp_i) + ramp_i / factor)         (YaRN, if factor)
    ramp_i = clamp((i - low) / (high - low), 0, 1)
    corr(r) = D · ln(L0 / (2π r)) / (2 ln theta),  L0 = original_max_position_embeddings
    low  = max(floor(corr(beta_fast)), 0),  high = min(ceil(corr(beta_slow)), D - 1)
    (high = low + 0.001 when they are equal)
    φ_i(p) = f32(p) · f32(f'_i)                            (angle in f32)
    ```

    `f'` is computed in f64 and rounded once to f32; the angle product, cos,
    sin and the rotation are f32, rounded once to the result type (the
    official reference's order).

    `layout(interleaved)` (default; DeepSeek's checkpoint and reference code)
    rotates the pairs `(x_2i, x_2i+1)`; `layout(half)` (Hugging Face
    `rotate_half`) rotates `(x_i, x_i+D/2)`:
    `y_a = x_a cos φ_i − x_b sin φ_i`, `y_b = x_b cos φ_i + x_a sin φ_i`.
    Both give the same attention scores for correspondingly permuted weights;
    cache contents differ (docs/semantics.md §8.2).

    The YaRN attributes are the Hugging Face `rope_scaling` keys (V3:
    factor 40, original_max_position_embeddings 4096, beta_fast 32,
    beta_slow 1, mscale 1, mscale_all_dim 1). YaRN is applied whenever `factor`
    is given, as Hugging Face does; DeepSeek's own demo skips it when its
    `max_seq_len <= 4096`, so an importer of such a setup omits `factor`.
    With YaRN, `cos` and `sin` are multiplied (in f32) by Hugging Face's
    `attention_factor`: `m(factor, mscale) / m(factor, mscale_all_dim)` when
    both keys are set and non-zero, else `m(factor, 1)`, with
    `m(s, c) = 0.1 c ln(s) + 1` (1 when s <= 1). Every official DeepSeek
    config sets `mscale = mscale_all_dim`, so the factor is 1 there; a config
    without the two keys, or with different values, rotates with magnitude
    `attention_factor`, exactly as Hugging Face does. YaRN's attention
    temperature `m(factor, mscale_all_dim)²` is separate: it belongs to the
    softmax scale (once, see `dsv3.latent_attention` and
    `mlir::dsv3::mlaSoftmaxScale`).

    Errors: a dynamic dimension other than a token dimension; positions of rank other than 1 or 2; `x` not
    `positions.shape ++ [H?, D]`; odd `D`; result shape differs from `x`;
    theta <= 1; YaRN keys without `factor`, `factor` without
    `original_max_position_embeddings`, non-positive factor,
    original_max_position_embeddings or beta.

    Example:

    ```mlir
    %q = dsv3.rope %q_pe at %pos theta(10000.0) factor(40.0)
        original_max_position_embeddings(4096)
        : (tensor<2x4x128x64xbf16>, tensor<2x4xi64>) -> tensor<2x4x128x64xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_IndexTensor:$positions,
      DefaultValuedAttr<Dsv3_RopeLayout,
                        "::mlir::dsv3::RopeLayout::interleaved">:$layout,
      DefaultValuedAttr<F64Attr, "10000.0">:$theta,
      OptionalAttr<F64Attr>:$factor,
      OptionalAttr<I64Attr>:$original_max_position_embeddings,
      OptionalAttr<F64Attr>:$beta_fast,
      OptionalAttr<F64Attr>:$beta_slow,
      OptionalAttr<F64Attr>:$mscale,
      OptionalAttr<F64Attr>:$mscale_all_dim);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `at` $positions (`layout` `(` $layout^ `)`)?
    (`theta` `(` $theta^ `)`)? (`factor` `(` $factor^ `)`)?
    (`original_max_position_embeddings` `(`
        $original_max_position_embeddings^ `)`)?
    (`beta_fast` `(` $beta_fast^ `)`)? (`beta_slow` `(` $beta_slow^ `)`)?
    (`mscale` `(` $mscale^ `)`)? (`mscale_all_dim` `(` $mscale_all_dim^ `)`)?
    attr-dict `:` `(` type($input) `,` type($positions) `)` `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// f'_i of docs/semantics.md §8.1, §9.1 in f64, i = 0 .. D/2-1.
    ::llvm::SmallVector<double> getFrequencies();
    /// DeepSeek's softmax scale for this rope configuration:
    /// (qkNope + qkRope)^-0.5 · m(factor, mscale_all_dim)².
    double getSoftmaxScale(int64_t qkNopeHeadDim, int64_t qkRopeHeadDim);
    /// Hugging Face's YaRN `attention_factor` that multiplies cos and sin
    /// (1 without YaRN).
    double getAttentionFactor();
    /// The rotation of one pair, as the definition computes it (in f32):
    /// `xa`, `xb` the pair's members (float scalars), `position` an integer
    /// scalar, `frequency` the pair's f' as f32. Returns the rotated first
    /// and second members, `xa cos - xb sin` and `xb cos + xa sin`, with
    /// `cos` and `sin` of `f32(position) · frequency` scaled by the
    /// attention factor. Shared by the lowering and the kernels that fuse
    /// the rope into a consumer, so that both give the same bits.
    std::pair<::mlir::Value, ::mlir::Value> buildRotation(
        ::mlir::OpBuilder &b, ::mlir::Location loc, ::mlir::Value xa,
        ::mlir::Value xb, ::mlir::Value position, ::mlir::Value frequency);
  }];
}

//===----------------------------------------------------------------------===//
// dsv3.latent_attention
//===----------------------------------------------------------------------===//

def Dsv3_LatentAttentionOp : Dsv3_Op<"latent_attention", [Pure,
    DeclareOpInterfaceMethods<TilingInterface, [
      "getLoopIteratorTypes", "getIterationDomain", "getTiledImplementation",
      "getResultTilePosition"]>,
    DeclareOpInterfaceMethods<PartialReductionOpInterface, [
      "generateInitialTensorForPartialReduction", "tileToPartialReduction",
      "mergeReductions", "getPartialResultTilePosition"]>]> {
  let summary = "causal attention over the latent KV cache (absorbed MLA)";
  let description = [{
    The attention core of the weight-absorbed form of MLA (docs/semantics.md
    §10.4, the FlashMLA "MQA over latent" view with one KV head) for `S` new
    tokens of each of `B` sequences:

    ```
    s[b,i,h,t] = scale · (Σ_c q_nope[b,i,h,c] · c_kv[b,t,c]
                        + Σ_r q_pe[b,i,h,r]   · k_pe[b,t,r])   if visible
               = -inf                                             otherwise
    visible    = t <= start_pos[b] + i  and  t < kv_len[b]   (docs/semantics.md §10.5)
    P          = softmax_t(s)          (f32, max-subtracted)
    out[b,i,h,c] = Σ_t P[b,i,h,t] · c_kv[b,t,c]
    ```

    Operands: `q_nope` `[B, S, H, C]` is the absorbed query
    `W_UKᵀ q_nope` (C = kv_lora_rank), `q_pe` `[B, S, H, R]` the rotated rope
    query, `c_kv` `[B, L, C]` and `k_pe` `[B, L, R]` the latent cache
    (normalised latent and rotated rope key, written by
    `dsv3.kv_cache_update`), `start_pos` `[B]` the absolute position of each
    sequence's first new token, `kv_len` `[B]` the number of valid cache rows
    (usually `start_pos + S`). The result is `[B, S, H, C]`; the V half of
    `kv_b_proj` is applied afterwards. Scores, softmax and the weighted sum
    are f32, rounded once to the result type. A query that sees no key gets
    zeros (FlashMLA's convention), never NaN; hidden cache rows are never
    read into the sum, so unwritten rows holding NaN or Inf are harmless.

    The optional second result `lse` `[B, S, H]` (f32) is the natural-log
    sum of exponentials of each row's visible scaled scores,
    `max_t s + log Σ_t exp(s - max_t s)`, and `-inf` for a row that sees no
    key: what `dsv3.attention_merge` needs to combine attention over
    disjoint key sets.

    Tiling (TilingInterface): the iteration domain is `(b, i, h, t)`, with
    the key index `t` a reduction. Tiles of `b`, `i` and `h` are the same op
    on slices (`start_pos` shifted by the first query of the tile). The key
    dimension tiles only as a partial reduction with the outer-parallel
    strategy (PartialReductionOpInterface), which is split-KV decoding: each
    tile of keys `[t0, t0 + n)` attends over `c_kv[:, t0:t0+n]` with
    `start_pos - t0` and `kv_len - t0` (both first clamped to the values that
    see the same keys, so nothing wraps), returns its normalised output and
    `lse` into `[N, B, S, H, C]` and `[N, B, S, H]` partials, and the `N`
    partials are merged by a tree of `dsv3.attention_merge` (see
    `dsv3-split-kv-attention`).

    `scale` is DeepSeek's `(qk_nope_head_dim + qk_rope_head_dim)^-0.5 · m²`
    (docs/semantics.md §9.3, trap §15.1: never `C + R`): 0.1352338 for V3
    (`mlir::dsv3::mlaSoftmaxScale(128, 64, 40.0, 1.0)`,
    `dsv3.rope`'s `getSoftmaxScale`).

    Errors: a dynamic dimension other than a token dimension; operand ranks or dimensions other than above;
    result shape not `[B, S, H, C]`; an `lse` result shape not `[B, S, H]`;
    non-positive scale.

    Example:

    ```mlir
    %o = dsv3.latent_attention %q_nope, %q_pe, %c_kv, %k_pe, %start, %len
        scale(0.1352338)
        : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>,
          tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1xi64>,
          tensor<1xi64> -> tensor<1x1x128x512xf32>

    %o, %lse = dsv3.latent_attention %q_nope, %q_pe, %c_kv, %k_pe, %start, %len
        scale(0.1352338)
        : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>,
          tensor<1x256x512xbf16>, tensor<1x256x64xbf16>, tensor<1xi64>,
          tensor<1xi64> -> tensor<1x1x128x512xf32>, tensor<1x1x128xf32>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$q_nope, Dsv3_FloatTensor:$q_pe,
                   Dsv3_FloatTensor:$c_kv, Dsv3_FloatTensor:$k_pe,
                   Dsv3_IndexTensor:$start_pos, Dsv3_IndexTensor:$kv_len,
                   F32Attr:$scale);
  let results = (outs Dsv3_FloatTensor:$result,
                      Optional<RankedTensorOf<[F32]>>:$lse);
  let assemblyFormat = [{
    $q_nope `,` $q_pe `,` $c_kv `,` $k_pe `,` $start_pos `,` $kv_len
    `scale` `(` $scale `)` attr-dict
    `:` type($q_nope) `,` type($q_pe) `,` type($c_kv) `,` type($k_pe) `,`
        type($start_pos) `,` type($kv_len) `->` type($result)
        (`,` type($lse)^)?
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.attention_merge
//===----------------------------------------------------------------------===//

def Dsv3_AttentionMergeOp : Dsv3_Op<"attention_merge", [Pure]> {
  let summary = "merge two partial attention results by their log-sum-exp";
  let description = [{
    Combines the outputs of attention over two disjoint key sets (split-KV
    decoding, chunked prefill: FlashMLA/FlashInfer's "merge state") from each
    part's normalised output `o` and natural-log sum of exponentials `lse` of
    its scaled scores (docs/semantics.md §10.6):

    ```
    m   = max(lse1, lse2)
    w1  = exp(lse1 - m),  w2 = exp(lse2 - m)
    out = (w1 · o1 + w2 · o2) / (w1 + w2)
    lse = m + log(w1 + w2)
    ```

    computed in f32 (outputs rounded once to the result type). When both parts
    saw no key (`lse1 = lse2 = -inf`) the result is zeros with `lse = -inf`,
    never NaN; a part with `lse = -inf` contributes nothing, whatever its `o`
    holds. The operands may be views (e.g. a strided slice of a padded
    buffer): only their logical elements are read.

    Shapes and dtypes: `o1`, `o2` and `out` `[..., D]` (rank >= 1; bf16, f16
    or f32, independently); `lse1`, `lse2` and `lse` the same shape without
    the last dimension, f32.

    Errors: a dynamic dimension other than a token dimension; `o1`, `o2` and `out` of different shapes; an
    `lse` whose shape is not that of `o` without its last dimension.

    Example (decode: 128 heads of v_head_dim 512 latent):

    ```mlir
    %o, %lse = dsv3.attention_merge %o1, %lse1, %o2, %lse2
        : tensor<1x128x512xf32>, tensor<1x128xf32>, tensor<1x128x512xf32>,
          tensor<1x128xf32> -> tensor<1x128x512xbf16>, tensor<1x128xf32>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$o1, RankedTensorOf<[F32]>:$lse1,
                   Dsv3_FloatTensor:$o2, RankedTensorOf<[F32]>:$lse2);
  let results = (outs Dsv3_FloatTensor:$out, RankedTensorOf<[F32]>:$lse);
  let assemblyFormat = [{
    $o1 `,` $lse1 `,` $o2 `,` $lse2 attr-dict
    `:` type($o1) `,` type($lse1) `,` type($o2) `,` type($lse2)
    `->` type($out) `,` type($lse)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.kv_cache_update
//===----------------------------------------------------------------------===//

def Dsv3_KVCacheUpdateOp : Dsv3_Op<"kv_cache_update", [Pure]> {
  let summary = "write new latent rows into the MLA cache";
  let description = [{
    Functional update of the latent cache (docs/semantics.md §10.2): returns
    `c_kv` and `k_pe` with rows `start_pos[b] .. start_pos[b] + S - 1` of
    sequence `b` replaced by the `S` new rows (converted to the cache type);
    other rows are unchanged. Rows whose position falls outside `[0, L)` are
    dropped rather than written out of bounds; when `start_pos` is an entry
    input, the runtime refuses a call with `start_pos` outside `[0, L − S]`
    before anything runs (`dsv3-annotate-input-bounds`), so a cache in session
    state is never half written. The cache is the update's destination: a
    state cache is updated in place.

    Operands: caches `c_kv` `[B, L, C]`, `k_pe` `[B, L, R]`; new rows
    `new_c_kv` `[B, S, C]` (normalised latent) and `new_k_pe` `[B, S, R]`
    (rotated at its own position); `start_pos` `[B]` (i32 or i64).

    Errors: a dynamic dimension other than a token dimension; ranks or dimensions other than above; S > L;
    results not of the cache types.

    Example:

    ```mlir
    %c, %k = dsv3.kv_cache_update %c_kv, %k_pe, %new_c, %new_k, %start
        : tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1x1x512xf32>,
          tensor<1x1x64xf32>, tensor<1xi64>
          -> tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$c_kv, Dsv3_FloatTensor:$k_pe,
                   Dsv3_FloatTensor:$new_c_kv, Dsv3_FloatTensor:$new_k_pe,
                   Dsv3_IndexTensor:$start_pos);
  let results = (outs Dsv3_FloatTensor:$c_kv_out, Dsv3_FloatTensor:$k_pe_out);
  let assemblyFormat = [{
    $c_kv `,` $k_pe `,` $new_c_kv `,` $new_k_pe `,` $start_pos attr-dict
    `:` type($c_kv) `,` type($k_pe) `,` type($new_c_kv) `,` type($new_k_pe) `,`
        type($start_pos) `->` type($c_kv_out) `,` type($k_pe_out)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.mla
//===----------------------------------------------------------------------===//

def Dsv3_MLAOp : Dsv3_Op<"mla", [Pure]> {
  let summary = "a whole DeepSeek multi-head latent attention block";
  let description = [{
    One `DeepseekV3Attention` (docs/semantics.md §10, Hugging Face names) for
    `S` new tokens of each of `B` sequences, reading its own weights by name
    under `prefix` (e.g. `model.layers.0.self_attn`):

    ```
    q      = q_b_proj(q_a_layernorm(q_a_proj(x)))   (q_lora_rank > 0)
           = q_proj(x)                              (q_lora_rank = 0: no norm)
    q      -> [B, S, H, nope + rope] = [q_nope | q_pe],  q_pe = rope(q_pe)
    kv     = kv_a_proj_with_mqa(x) = [c (kv_lora_rank) | k_pe (rope)]
    c      = kv_a_layernorm(c),  k_pe = rope(k_pe)     (one head)
    caches = kv_cache_update(c_kv, k_pe_cache, c, k_pe, start_pos)
    kv_b_proj rows: [H, nope + v, kv_lora_rank], per head [K rows | V rows]
    o      = o_proj(attention(q, caches))            -> [B, S, hidden]
    ```

    Attention is causal over the cache (`dsv3.latent_attention`'s
    visibility: key `t` is seen by query `i` iff `t <= start_pos[b] + i` and
    `t < kv_len[b]`) with softmax scale
    `(qk_nope_head_dim + qk_rope_head_dim)^-0.5 · m(factor, mscale_all_dim)²`
    (docs/semantics.md §9.3, §15.1). `positions` `[B, S]` are the rope
    positions; `start_pos` `[B]` where the new rows go in the cache
    (docs/semantics.md §10.5).
    `--dsv3-decompose-mla` expands the op into the naive (K and V expanded
    from the latent) or absorbed (`W_UK` folded into the query, `W_UV` after
    attention, docs/semantics.md §10.3-§10.4) form; both compute the same
    function.

    Operands: `hidden` `[B, S, hidden]` (bf16 or f32; every intermediate and
    the output have its element type), `positions` `[B, S]`, caches `c_kv`
    `[B, L, kv_lora_rank]` and `k_pe` `[B, L, qk_rope_head_dim]`,
    `start_pos` and `kv_len` `[B]`. Results: the output `[B, S, hidden]`
    and the updated caches (the cache types).

    Weights (`<prefix>.<name>.weight`): `q_a_proj` `[q_lora_rank, hidden]`,
    `q_a_layernorm` `[q_lora_rank]`, `q_b_proj`
    `[H·(nope+rope), q_lora_rank]` or `q_proj` `[H·(nope+rope), hidden]`,
    `kv_a_proj_with_mqa` `[kv_lora_rank + rope, hidden]`, `kv_a_layernorm`
    `[kv_lora_rank]`, `kv_b_proj` `[H·(nope+v), kv_lora_rank]`, `o_proj`
    `[hidden, H·v]`. Projections have `weight_type` (default f32); with
    `f8E4M3FN` each also has `<name>.weight_scale_inv` (f32, 128x128 blocks)
    and the norms are bf16, as in the official checkpoint; otherwise norms
    have `weight_type` too.

    The rope attributes are those of `dsv3.rope` (interleaved layout).

    Errors: a dynamic dimension other than a token dimension; `hidden` not rank 3 or `positions` not `[B, S]`;
    caches not `[B, L, kv_lora_rank]` / `[B, L, qk_rope_head_dim]`;
    `start_pos`/`kv_len` not `[B]`; S > L; non-positive head count or head
    dims, negative q_lora_rank, odd qk_rope_head_dim; result types other
    than hidden's and the caches'; a `weight_type` that is not bf16, f16, f32
    or f8E4M3FN; theta <= 1, YaRN keys without `factor` or `factor`
    without `original_max_position_embeddings` (the remaining rope checks
    are `dsv3.rope`'s, after decomposition).

    Example:

    ```mlir
    %o, %c2, %k2 = dsv3.mla %x, %pos, %c, %k, %start, %len
        prefix("model.layers.0.self_attn") {num_heads = 128 : i64,
        q_lora_rank = 1536 : i64, kv_lora_rank = 512 : i64,
        qk_nope_head_dim = 128 : i64, qk_rope_head_dim = 64 : i64,
        v_head_dim = 128 : i64, factor = 40.0 : f64,
        original_max_position_embeddings = 4096 : i64,
        mscale = 1.0 : f64, mscale_all_dim = 1.0 : f64,
        weight_type = f8E4M3FN}
        : tensor<1x1x7168xbf16>, tensor<1x1xi64>, tensor<1x4096x512xbf16>,
          tensor<1x4096x64xbf16>, tensor<1xi64>, tensor<1xi64>
          -> tensor<1x1x7168xbf16>, tensor<1x4096x512xbf16>,
             tensor<1x4096x64xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$hidden, Dsv3_IndexTensor:$positions,
      Dsv3_FloatTensor:$c_kv, Dsv3_FloatTensor:$k_pe,
      Dsv3_IndexTensor:$start_pos, Dsv3_IndexTensor:$kv_len,
      StrAttr:$prefix, I64Attr:$num_heads,
      DefaultValuedAttr<I64Attr, "0">:$q_lora_rank, I64Attr:$kv_lora_rank,
      I64Attr:$qk_nope_head_dim, I64Attr:$qk_rope_head_dim,
      I64Attr:$v_head_dim,
      DefaultValuedAttr<F32Attr, "1.0e-6">:$rms_norm_eps,
      DefaultValuedAttr<F64Attr, "10000.0">:$theta,
      OptionalAttr<F64Attr>:$factor,
      OptionalAttr<I64Attr>:$original_max_position_embeddings,
      OptionalAttr<F64Attr>:$beta_fast,
      OptionalAttr<F64Attr>:$beta_slow,
      OptionalAttr<F64Attr>:$mscale,
      OptionalAttr<F64Attr>:$mscale_all_dim,
      OptionalAttr<TypeAttr>:$weight_type);
  let results = (outs Dsv3_FloatTensor:$output, Dsv3_FloatTensor:$c_kv_out,
                 Dsv3_FloatTensor:$k_pe_out);
  let assemblyFormat = [{
    $hidden `,` $positions `,` $c_kv `,` $k_pe `,` $start_pos `,` $kv_len
    `prefix` `(` $prefix `)` attr-dict
    `:` type($hidden) `,` type($positions) `,` type($c_kv) `,` type($k_pe) `,`
        type($start_pos) `,` type($kv_len)
    `->` type($output) `,` type($c_kv_out) `,` type($k_pe_out)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Element type of the projection weights (f32 when not given).
    ::mlir::Type getProjectionType();
    /// Element type of the norm weights: bf16 for FP8 checkpoints.
    ::mlir::Type getNormType();
    /// Softmax scale of docs/semantics.md §9.3 for this configuration.
    double getSoftmaxScale();
  }];
}

#endif // DSV3_ATTENTION_OPS_TD
