//===- Dsv3Ops.td - dsv3 ops -------------------------------*- tablegen -*-===//
//
// Ops of the dsv3 dialect. Each description states shapes, dtypes, the errors
// the verifier reports and the section of docs/semantics.md that defines the
// numerics.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_OPS_TD
#define DSV3_OPS_TD

include "dsv3/IR/Dsv3Dialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/TilingInterface.td"
include "mlir/IR/BuiltinAttributes.td"

class Dsv3_Op<string mnemonic, list<Trait> traits = []>
    : Op<Dsv3_Dialect, mnemonic, traits>;

def Dsv3_FloatTensor : RankedTensorOf<[BF16, F16, F32]>;
def Dsv3_FP8Tensor : RankedTensorOf<[F8E4M3FN]>;
def Dsv3_ScaleTensor : RankedTensorOf<[F32, F8E8M0FNU]>;

//===----------------------------------------------------------------------===//
// dsv3.parameter
//===----------------------------------------------------------------------===//

def Dsv3_ParameterOp : Dsv3_Op<"parameter", [Pure]> {
  let summary = "a named external weight";
  let description = [{
    Reads the weight called `name` (a Hugging Face checkpoint tensor name,
    verbatim) with the given static tensor type. Weights are never baked into
    compiled modules: `--dsv3-outline-parameters` turns each distinct name into an
    entry argument with role `parameter`, and the runtime binds it from
    safetensors files by name, refusing a dtype or shape mismatch.

    With `stacked`, the name holds the placeholder `{e}` once and the result
    `[E, ...]` stacks the E checkpoint tensors named with `{e}` replaced by
    `0 .. E-1` along a new leading dimension, each of the remaining shape. This
    is how the routed experts of `dsv3.moe` reach a grouped GEMM: the
    checkpoint stores one tensor per expert (docs/semantics.md §3.1), and the
    runtime stacks them once when it binds parameters, without copying when the
    file already stores them back to back (docs/runtime-abi.md), so the graph
    never copies expert weights and experts no token is routed to are never
    read.

    With `same_as`, the weight may be a copy of another parameter of the
    same dtype and shape (DeepSeek-V3's multi-token-prediction layer stores
    copies of `model.embed_tokens.weight` and `lm_head.weight`). When the
    checkpoint's bytes of the two tensors are identical, the runtime binds
    this parameter to the other's memory, so one copy is read and kept
    resident (on cuda, uploaded); otherwise each is bound from its own tensor.
    The runtime checks the bytes when it binds and reports the outcome.

    With `quantized_from(T)`, the checkpoint stores the weight as a
    `[N, K]` tensor of float type `T` (bf16, f16 or f32) and the result is its
    FP8 E4M3 codes `[N, K]`, which the runtime computes once, when it binds
    parameters, exactly as `dsv3.quantize ... block [128, 128]` with f32 scales
    would (same amax, division and rounding). A second parameter marked
    `scales_of` with this one's name, `f32[ceil(N/128), ceil(K/128)]`, gives the
    block scales of that quantization (its own name, e.g.
    `lm_head.weight_scale_inv`, is a label; no checkpoint tensor is read for
    it). This is an opt-in weight-only FP8 quantization of a bf16 weight
    (`dsv3-import --quantize-lm-head`), as serving engines offer for
    checkpoints without FP8 weights: a `dsv3.linear` then reads half the bytes,
    and its results differ from the bf16 weight's by the FP8 rounding.

    Errors: empty name; a dynamic dimension; `stacked` without exactly one
    `{e}` in the name or on a rank-0 type; `{e}` in the name of an unstacked
    parameter; `same_as` empty, naming the parameter itself, or on a stacked
    parameter; `quantized_from` of a type other than bf16, f16 or f32, on a
    result that is not a rank-2 `f8E4M3FN` tensor, or on a stacked parameter;
    `scales_of` empty, naming the parameter itself, on a result that is not a
    rank-2 f32 tensor, on a stacked parameter, or together with
    `quantized_from` or `same_as`. That a `scales_of` names a quantized
    parameter of matching shape is checked by `--dsv3-annotate-abi`.

    Example:

    ```mlir
    %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight"
        : tensor<1536x7168xf8E4M3FN>
    %g = dsv3.parameter "model.layers.3.mlp.experts.{e}.gate_proj.weight"
        stacked : tensor<256x2048x7168xf8E4M3FN>
    %e = dsv3.parameter "model.layers.61.embed_tokens.weight"
        same_as "model.embed_tokens.weight" : tensor<129280x7168xbf16>
    %h = dsv3.parameter "lm_head.weight" quantized_from(bf16)
        : tensor<129280x7168xf8E4M3FN>
    %hs = dsv3.parameter "lm_head.weight_scale_inv"
        scales_of "lm_head.weight" : tensor<1010x56xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, UnitAttr:$stacked,
                       OptionalAttr<StrAttr>:$same_as,
                       OptionalAttr<TypeAttr>:$quantized_from,
                       OptionalAttr<StrAttr>:$scales_of);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $name (`stacked` $stacked^)? (`same_as` $same_as^)?
    (`quantized_from` `(` $quantized_from^ `)`)? (`scales_of` $scales_of^)?
    attr-dict `:` type($result)
  }];
  let builders = [
    OpBuilder<(ins "Type":$type, "StringRef":$name,
                   CArg<"bool", "false">:$stacked), [{
      build($_builder, $_state, type, $_builder.getStringAttr(name),
            stacked ? $_builder.getUnitAttr() : UnitAttr(), StringAttr(),
            TypeAttr(), StringAttr());
    }]>
  ];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.quantize
//===----------------------------------------------------------------------===//

def Dsv3_QuantizeOp : Dsv3_Op<"quantize", [Pure]> {
  let summary = "block-wise FP8 E4M3 quantization with per-block scales";
  let description = [{
    Splits `input` (bf16, f16 or f32) into blocks of `block` elements (one size
    per dimension: `[1, 128]` for activation tiles, `[128, 128]` for weight
    blocks; any positive sizes) and, for each block (docs/semantics.md
    §5.1–§5.4):

    ```
    amax  = max(max |x| over the block's valid elements, 1e-4)
    scale = amax / 448                            (f32)
    scale = 2^ceil(log2(scale))                   (scale_fmt ue8m0 only; exact
                                                   exponent arithmetic: exponent
                                                   + 1 if any mantissa bit is set)
    q     = e4m3(f32(x) / scale)                  (round to nearest even,
                                                   saturate to ±448, NaN stays NaN)
    ```

    Edge blocks that hang over the end of a dimension have their own scale
    computed over their valid elements only, so
    `shape(scale) = ceildiv(shape(input), block)` (576 rows in blocks of 128 give
    5 scale rows, the last covering rows 512..575). An all-zero block gets
    scale 1e-4/448 (UE8M0: 2^-22) and zeros, never NaN. NaN elements are ignored
    by amax and stay NaN; an infinite element makes its block's scale infinite,
    so that element becomes NaN and the rest of the block zeros.

    Values are *divided* by the stored scale, as DeepSeek's `act_quant` does.
    Multiplying by the reciprocal (DeepGEMM, DeepEP) rounds `1/scale` first and
    can flip the FP8 code at a rounding boundary when the scale is not a power of
    two; for UE8M0 scales both agree.

    The scale tensor holds dequantization multipliers (`x ≈ q · scale`,
    the checkpoint's `weight_scale_inv`), f32 or, with `scale_fmt(ue8m0)`,
    optionally `f8E8M0FNU`.

    Errors: block rank differs from the input rank or has a non-positive size;
    a dynamic dimension other than a token dimension, or one whose block is
    not 1; output shape differs from the input; scale shape is not the
    ceil-div of the input shape by the block; `f8E8M0FNU` scales without
    `scale_fmt(ue8m0)`.

    Example:

    ```mlir
    %q, %s = dsv3.quantize %x block [1, 128]
        : tensor<4x7168xbf16> -> tensor<4x7168xf8E4M3FN>, tensor<4x56xf32>
    %wq, %ws = dsv3.quantize %w block [128, 128] scale_fmt(ue8m0)
        : tensor<576x7168xf32> -> tensor<576x7168xf8E4M3FN>, tensor<5x56xf8E8M0FNU>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input,
                   DenseI64ArrayAttr:$block,
                   DefaultValuedAttr<Dsv3_ScaleFormat,
                                     "::mlir::dsv3::ScaleFormat::f32">:$scale_fmt);
  let results = (outs Dsv3_FP8Tensor:$output, Dsv3_ScaleTensor:$scale);
  let assemblyFormat = [{
    $input `block` $block (`scale_fmt` `(` $scale_fmt^ `)`)? attr-dict
    `:` type($input) `->` type($output) `,` type($scale)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.dequantize
//===----------------------------------------------------------------------===//

def Dsv3_DequantizeOp : Dsv3_Op<"dequantize", [Pure]> {
  let summary = "FP8 E4M3 with block scales back to bf16, f16 or f32";
  let description = [{
    The inverse map of `dsv3.quantize` (docs/semantics.md §5.5, DeepSeek's
    `weight_dequant`): `y[i, j] = cast(f32(q[i, j]) · scale[i / b0, j / b1])`,
    the product taken in f32 and rounded once to the result type. Shapes follow
    `dsv3.quantize`.

    Errors: as for `dsv3.quantize` (block rank and sizes, dynamic dimensions, scale
    shape, result shape).

    Example:

    ```mlir
    %w = dsv3.dequantize %q, %s block [128, 128]
        : tensor<576x7168xf8E4M3FN>, tensor<5x56xf32> -> tensor<576x7168xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FP8Tensor:$input, Dsv3_ScaleTensor:$scale,
                   DenseI64ArrayAttr:$block);
  let results = (outs Dsv3_FloatTensor:$output);
  let assemblyFormat = [{
    $input `,` $scale `block` $block attr-dict
    `:` type($input) `,` type($scale) `->` type($output)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// dsv3.linear
//===----------------------------------------------------------------------===//

def Dsv3_LinearOp : Dsv3_Op<"linear", [Pure]> {
  let summary = "y = x · Wᵀ with an optionally block-scaled FP8 weight";
  let description = [{
    `y[M, N] = x[M, K] · W[N, K]ᵀ` (docs/semantics.md §6), accumulated in f32,
    rounded once to the result type (bf16 or f32).

    The weight is bf16/f16/f32, or FP8 E4M3 with `weight_scale_inv`
    `[ceil(N/128), ceil(K/128)]` (128x128 blocks; f32 or `f8E8M0FNU`).

    `act_quant` selects the activation path:
    * `none` (default, weight-only): `y = Σ_k f32(x[m,k]) · (f32(q[n,k]) ·
      s[n/128, k/128])` — each weight element is dequantized in f32.
    * `fp8_1x128` / `fp8_1x128_ue8m0`: DeepSeek's inference kernels. `x` is
      quantized per 1x128 tile along K exactly as `dsv3.quantize` (f32 or UE8M0
      scales `sa`), then
      `y = Σ_kb (Σ_{k∈kb} f32(qa[m,k]) · f32(q[n,k])) · sa[m,kb] · s[n/128,kb]`:
      f32 partial sums per 128-wide K block, scales applied per block
      (the `(p·sa)·sb` association of DeepSeek's `fp8_gemm`). Requires an FP8
      weight and K a multiple of 128.

    Errors: ranks other than x:2, W:2; K mismatch; result shape not [M, N]; a
    weight scale on a non-FP8 weight or a missing one on an FP8 weight; scale
    shape not `[ceil(N/128), ceil(K/128)]`; activation quantization with a
    high-precision weight or K not a multiple of 128.

    Example:

    ```mlir
    %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<12x56xf32>)
        act_quant(fp8_1x128)
        : (tensor<4x7168xbf16>, tensor<1536x7168xf8E4M3FN>) -> tensor<4x1536xf32>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input,
                   RankedTensorOf<[BF16, F16, F32, F8E4M3FN]>:$weight,
                   Optional<Dsv3_ScaleTensor>:$weight_scale_inv,
                   DefaultValuedAttr<Dsv3_ActivationQuant,
                       "::mlir::dsv3::ActivationQuant::none">:$act_quant);
  let results = (outs RankedTensorOf<[BF16, F32]>:$result);
  let assemblyFormat = [{
    $input `,` $weight
    (`weight_scale_inv` `(` $weight_scale_inv^ `:` type($weight_scale_inv) `)`)?
    (`act_quant` `(` $act_quant^ `)`)? attr-dict
    `:` `(` type($input) `,` type($weight) `)` `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// True when the weight is FP8 and carries block scales.
    bool hasBlockScaledWeight() { return static_cast<bool>(getWeightScaleInv()); }
  }];
}

//===----------------------------------------------------------------------===//
// dsv3.rms_norm
//===----------------------------------------------------------------------===//

def Dsv3_RMSNormOp : Dsv3_Op<"rms_norm", [Pure]> {
  let summary = "RMSNorm over the last dimension, reduced in f32";
  let description = [{
    `y = cast((f32(x) · rsqrt(mean_j(f32(x_j)²) + eps)) · f32(w))` over the last
    dimension (docs/semantics.md §7, the one-rounding order of DeepSeek's
    reference since commit adecc0e: normalise and scale in f32, round once to
    the result type). `epsilon` is `rms_norm_eps` (1e-6 for every DeepSeek
    config).

    Errors: weight not 1-D of the input's last dimension; result shape differs
    from the input; a dynamic dimension other than a token dimension; non-positive epsilon.

    Example:

    ```mlir
    %y = dsv3.rms_norm %x, %w eps(1.0e-06)
        : (tensor<4x1536xf32>, tensor<1536xbf16>) -> tensor<4x1536xbf16>
    ```
  }];
  let arguments = (ins Dsv3_FloatTensor:$input, Dsv3_FloatTensor:$weight,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs Dsv3_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`eps` `(` $epsilon^ `)`)? attr-dict
    `:` `(` type($input) `,` type($weight) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

include "dsv3/IR/Dsv3MoEOps.td"
include "dsv3/IR/Dsv3AttentionOps.td"
include "dsv3/IR/Dsv3ModelOps.td"

#endif // DSV3_OPS_TD
