//===- Dsv3Dialect.td - the dsv3 dialect -------------------*- tablegen -*-===//
//
// The dialect definition and its enums. Ops live in Dsv3Ops.td.
//
//===----------------------------------------------------------------------===//

#ifndef DSV3_DIALECT_TD
#define DSV3_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Dsv3_Dialect : Dialect {
  let name = "dsv3";
  let cppNamespace = "::mlir::dsv3";
  let summary = "Ops for compiling DeepSeek-V3 model graphs";
  let description = [{
    The `dsv3` dialect models what makes DeepSeek-V3 special: FP8 E4M3 block-wise
    quantization with f32 or UE8M0 scales, block-scaled linear layers, RMSNorm, and
    named external weights. Every op is defined numerically by
    `docs/semantics.md` (section numbers are cited per op) and,
    executably, by its lowering in `--dsv3-lower-to-linalg`.

    Tensors are ranked. The one dimension that may be dynamic (`?`) is a token
    count: the rows of activations (`T` of `[T, H]`, `S` of `[B, S, ...]`,
    the rows of `dsv3.expert_dispatch`, which then number `T·K + E·(a-1)`),
    so that one compiled prefill serves any prompt length. Weights, scales,
    caches, offsets and every other dimension are static, and a verifier
    names the operand that breaks this ("requires static shapes except token
    dimensions"). A quantization block never spans a dynamic dimension (block
    size 1 there). `dsv3.mla` with a dynamic `S` needs `B = 1`. Weight names
    are Hugging Face checkpoint names verbatim.

    Sizes are bounded: no operand or result may hold more than 2^48 elements,
    and the whole-layer ops (`dsv3.mla`, `dsv3.moe`, `dsv3.mlp`,
    `dsv3.expert_dispatch`) refuse attributes whose derived sizes (weights,
    dispatched rows `T·K + E·(alignment-1)`, `[B, heads, S, L]` scores)
    exceed it, naming the product ("... is negative or exceeds 2^48
    elements"). Nothing a lowering computes from a verified op can wrap.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::math::MathDialect"
  ];
}

def Dsv3_ScaleFormat : I32EnumAttr<"ScaleFormat",
    "how a block scale is rounded (HF `quantization_config.scale_fmt`)", [
      I32EnumAttrCase<"f32", 0>,
      I32EnumAttrCase<"ue8m0", 1>
    ]> {
  let cppNamespace = "::mlir::dsv3";
}

def Dsv3_ActivationQuant : I32EnumAttr<"ActivationQuant",
    "whether dsv3.linear quantizes its activations first", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"fp8_1x128", 1>,
      I32EnumAttrCase<"fp8_1x128_ue8m0", 2>
    ]> {
  let cppNamespace = "::mlir::dsv3";
}

#endif // DSV3_DIALECT_TD
