//===- Dsv3ModelOps.td - ops whole models need -------------*- tablegen -*-===//
//
// The token embedding and the dense SwiGLU MLP: what a whole decoder needs
// besides attention and MoE. Included from Dsv3Ops.td.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_MODEL_OPS_TD
#define DSV3_MODEL_OPS_TD

//===----------------------------------------------------------------------===//
// dsv3.embedding
//===----------------------------------------------------------------------===//

def Dsv3_EmbeddingOp : Dsv3_Op<"embedding", [Pure]> {
  let summary = "token embedding: rows of a [vocab, hidden] table by id";
  let description = [{
    `y[..., h] = cast(table[ids[...], h])` (`model.embed_tokens`): one row of
    the table per token id, converted to the result's element type (exact
    for bf16 into bf16 or f32).

    Shapes and dtypes: `ids` i32 or i64 of any shape `S` (`[B, T]` in an
    imported model), `table` `[V, H]` bf16/f16/f32, result `S ++ [H]`
    bf16/f16/f32.

    Ids outside `[0, V)` are an error of the caller: when `ids` is an entry
    argument `--dsv3-annotate-input-bounds` records the range and the runtime
    refuses such a call before it runs. Inside the graph an out-of-range id
    is clamped into the table, so it never becomes an address outside it.

    Errors: table not rank 2 or with no rows; result shape not `ids.shape ++ [H]`; a dynamic
    table dimension.

    Example:

    ```mlir
    %h = dsv3.embedding %table[%ids]
        : (tensor<129280x7168xbf16>, tensor<1x6xi64>) -> tensor<1x6x7168xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$table, Dsv3_IndexTensor:$ids);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict
    `:` `(` type($table) `,` type($ids) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.mlp
//===----------------------------------------------------------------------===//

def Dsv3_MLPOp : Dsv3_Op<"mlp", [Pure]> {
  let summary = "a dense SwiGLU MLP that reads its weights by HF name";
  let description = [{
    The dense feed-forward of a decoder layer (`DeepseekV3MLP`, used by the
    layers below `first_k_dense_replace`), reading its weights under `prefix`
    (e.g. `model.layers.0.mlp`, no trailing dot):

    ```
    <prefix>.gate_proj.weight   [I, H]
    <prefix>.up_proj.weight     [I, H]
    <prefix>.down_proj.weight   [H, I]
    y = down_proj(silu(gate_proj(x)) ⊙ up_proj(x)),   silu(g) = g / (1 + e^-g)
    ```

    with I = `intermediate_size`. With `weight_type` f8E4M3FN each weight has
    a `<name>.weight_scale_inv` companion (f32 `[ceil(N/128), ceil(K/128)]`,
    128x128 blocks, as in the checkpoint); otherwise the weights are
    `weight_type`. The projections accumulate in f32 (`dsv3.linear`), the
    SwiGLU is f32, and the result is rounded once to its type.
    `--dsv3-decompose-mlp` expands the op into parameters and `dsv3.linear`s.

    Shapes and dtypes: x `[T, H]` bf16/f16/f32; result `[T, H]` bf16 or f32.

    Errors: x not rank 2 or with a dynamic hidden size; result not `[T, H]`; an empty prefix or
    one ending in '.'; a `weight_type` other than bf16, f16, f32, f8E4M3FN.

    Example (DeepSeek-V3, layers 0..2):

    ```mlir
    %y = dsv3.mlp %x prefix("model.layers.0.mlp") intermediate_size(18432)
        weight_type(f8E4M3FN) : tensor<4x7168xbf16> -> tensor<4x7168xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, StrAttr:$prefix,
                   ConfinedAttr<I64Attr, [IntPositive]>:$intermediate_size,
                   TypeAttr:$weight_type);
  let results = (outs RankedTensorOf<[BF16, F32]>:$result);
  let assemblyFormat = [{
    $input `prefix` `(` $prefix `)` `intermediate_size` `(`
    $intermediate_size `)` `weight_type` `(` $weight_type `)` attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool hasFP8Weights() { return isa<Float8E4M3FNType>(getWeightType()); }
    /// `<prefix>.<suffix>`, the HF checkpoint name of one of its weights.
    std::string weightName(llvm::StringRef suffix) {
      return (getPrefix() + "." + suffix).str();
    }
  }];
}

#endif // DSV3_MODEL_OPS_TD
