// RUN: dsv3-opt %s --split-input-file --verify-diagnostics --allow-unregistered-dialect --dsv3-lower-to-linalg

// dsv3-lower-to-linalg is a total conversion: a dsv3 op it cannot lower is
// an error at this pass (not an unknown op for bufferization to trip on).
// Whole-block ops are decomposed by their own passes first.
func.func @mlp(%x: tensor<4x160xbf16>) -> tensor<4x160xbf16> {
  // expected-error @+1 {{dsv3-lower-to-linalg: no lowering to linalg for 'dsv3.mlp' (it is decomposed first: run dsv3-decompose-mla, dsv3-decompose-moe and dsv3-decompose-mlp, or a pipeline)}}
  %y = dsv3.mlp %x prefix("model.layers.0.mlp") intermediate_size(224) weight_type(f8E4M3FN) : tensor<4x160xbf16> -> tensor<4x160xbf16>
  return %y : tensor<4x160xbf16>
}

// -----

// dsv3.parameter is meant to survive (dsv3-outline-parameters takes it).
func.func @parameter() -> tensor<4x160xbf16> {
  %w = dsv3.parameter "model.embed_tokens.weight" : tensor<4x160xbf16>
  return %w : tensor<4x160xbf16>
}

// -----

// Ops of other dialects, even unregistered ones, are not this pass's to
// judge.
func.func @other_dialect() {
  "foo.bar"() : () -> ()
  return
}
