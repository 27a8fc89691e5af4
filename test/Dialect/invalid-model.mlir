// RUN: dsv3-opt %s -split-input-file -verify-diagnostics
// One case per verifier error of dsv3.embedding and dsv3.mlp.

func.func @embedding_table_rank(%t: tensor<256xbf16>, %ids: tensor<4xi64>) {
  // expected-error @+1 {{table must be [vocab, hidden] with vocab > 0, got [256]}}
  %h = dsv3.embedding %t[%ids] : (tensor<256xbf16>, tensor<4xi64>) -> tensor<4x1xbf16>
  return
}

// -----

func.func @embedding_empty_table(%t: tensor<0x8xbf16>, %ids: tensor<4xi64>) {
  // expected-error @+1 {{table must be [vocab, hidden] with vocab > 0, got [0, 8]}}
  %h = dsv3.embedding %t[%ids] : (tensor<0x8xbf16>, tensor<4xi64>) -> tensor<4x8xbf16>
  return
}

// -----

func.func @embedding_result(%t: tensor<256x8xbf16>, %ids: tensor<1x4xi64>) {
  // expected-error @+1 {{result shape must be ids.shape ++ [hidden] = [1, 4, 8], got [4, 8]}}
  %h = dsv3.embedding %t[%ids] : (tensor<256x8xbf16>, tensor<1x4xi64>) -> tensor<4x8xbf16>
  return
}

// -----

func.func @embedding_dynamic(%t: tensor<?x8xbf16>, %ids: tensor<1x?xi64>) {
  // expected-error @+1 {{requires static shapes except token dimensions, but table [?, 8] has dimension 0 dynamic}}
  %h = dsv3.embedding %t[%ids] : (tensor<?x8xbf16>, tensor<1x?xi64>) -> tensor<1x?x8xbf16>
  return
}

// -----

func.func @mlp_rank(%x: tensor<1x4x8xbf16>) {
  // expected-error @+1 {{expects a rank-2 input [T, H]}}
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(bf16) : tensor<1x4x8xbf16> -> tensor<1x4x8xbf16>
  return
}

// -----

func.func @mlp_result(%x: tensor<4x8xbf16>) {
  // expected-error @+1 {{result must be [4, 8] ([T, H]), got [4, 16]}}
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x16xbf16>
  return
}

// -----

func.func @mlp_prefix(%x: tensor<4x8xbf16>) {
  // expected-error @+1 {{prefix must be a non-empty HF module path without a trailing '.', got 'model.layers.0.mlp.'}}
  %y = dsv3.mlp %x prefix("model.layers.0.mlp.") intermediate_size(16) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}

// -----

func.func @mlp_weight_type(%x: tensor<4x8xbf16>) {
  // expected-error @+1 {{weight_type must be bf16, f16, f32 or f8E4M3FN, got 'i8'}}
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(i8) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}

// -----

func.func @mlp_intermediate(%x: tensor<4x8xbf16>) {
  // expected-error @+1 {{attribute 'intermediate_size' failed to satisfy constraint}}
  %y = dsv3.mlp %x prefix("m") intermediate_size(0) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}

// -----

func.func @mlp_intermediate_huge(%x: tensor<4x8xbf16>) {
  // expected-error @+1 {{intermediate_size x hidden = 281474976710656 x 8 is negative or exceeds 2^48 elements}}
  %y = dsv3.mlp %x prefix("m") intermediate_size(281474976710656) weight_type(bf16) : tensor<4x8xbf16> -> tensor<4x8xbf16>
  return
}

// -----

// Operand types are bounded too (2^48 elements).
func.func @mlp_input_huge(%x: tensor<16777217x16777216xbf16>) {
  // expected-error @+1 {{the elements of input = 16777217 x 16777216 is negative or exceeds 2^48 elements}}
  %y = dsv3.mlp %x prefix("m") intermediate_size(16) weight_type(bf16) : tensor<16777217x16777216xbf16> -> tensor<16777217x16777216xbf16>
  return
}
