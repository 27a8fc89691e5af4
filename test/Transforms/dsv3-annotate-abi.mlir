// RUN: dsv3-opt %s --dsv3-outline-parameters --dsv3-annotate-abi --split-input-file --verify-diagnostics | FileCheck %s

// Inputs, then parameters, then outputs, with names, dtypes and shapes.
// CHECK: module attributes {dsv3.metadata = "{\22abi_version\22:4,\22compiler\22:\22dsv3 {{[^\]+}}\22,\22entries\22:[{\22args\22:[
// CHECK-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22arg0\22,\22role\22:\22input\22,\22shape\22:[4,256]}
// CHECK-SAME: {\22dtype\22:\22f8e4m3fn\22,\22name\22:\22model.layers.0.self_attn.q_a_proj.weight\22,\22role\22:\22parameter\22,\22shape\22:[8,256]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22model.layers.0.self_attn.q_a_proj.weight_scale_inv\22,\22role\22:\22parameter\22,\22shape\22:[1,2]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22result0\22,\22role\22:\22output\22,\22shape\22:[4,8]}
// CHECK-SAME: \22name\22:\22proj\22,\22symbol\22:\22dsv3_entry_proj\22}],\22target\22:\22host\22}"}
// CHECK: func.func @proj({{.*}} attributes {llvm.emit_c_interface}
func.func @proj(%x: tensor<4x256xbf16>) -> tensor<4x8xf32> {
  %w = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight" : tensor<8x256xf8E4M3FN>
  %s = dsv3.parameter "model.layers.0.self_attn.q_a_proj.weight_scale_inv" : tensor<1x2xf32>
  %y = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x2xf32>) : (tensor<4x256xbf16>, tensor<8x256xf8E4M3FN>) -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// expected-error @+1 {{entry input 'arg0' must be statically shaped, except input dimensions (and output dimensions they size) named in dsv3.dynamic_dims; got 'tensor<?x4xf32>'}}
func.func @dynamic(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}

// -----

// expected-error @+1 {{entry input 'arg0' must be a ranked tensor, got 'i32'}}
func.func @scalar(%x: i32) -> i32 {
  return %x : i32
}

// -----

// expected-error @+1 {{entry input 'arg0' has element type 'f64', which the module ABI cannot carry}}
func.func @f64(%x: tensor<4xf64>) -> tensor<4xf64> {
  return %x : tensor<4xf64>
}

// -----

// Session state: the cache argument has role "state" in calling order; the
// result that updates it is materialized into the argument (so bufferization
// writes the session's buffer in place) and is not an output. Inputs and
// parameters become read-only; an input returned as is gets copied so that
// no output aliases an argument. Bounds and stacked parameters reach the
// metadata.
// CHECK: \22args\22:[
// CHECK-SAME: {\22bounds\22:{\22max\22:7,\22min\22:0,\22why\22:\22test\22},\22dtype\22:\22i64\22,\22name\22:\22arg0\22,\22role\22:\22input\22,\22shape\22:[1]}
// CHECK-SAME: {\22dtype\22:\22bf16\22,\22name\22:\22layers.0.kv\22,\22role\22:\22state\22,\22shape\22:[1,8,4]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22expert_pointers\22:true,\22name\22:\22experts.{e}.w\22,\22role\22:\22parameter\22,\22shape\22:[2,4,4],\22stacked\22:true}
// CHECK-SAME: {\22dtype\22:\22i64\22,\22name\22:\22result1\22,\22role\22:\22output\22,\22shape\22:[1]},{\22dtype\22:\22f32\22,\22name\22:\22result2\22,\22role\22:\22output\22,\22shape\22:[2,4,4]}]
// CHECK-LABEL: func.func @step(
// CHECK-SAME:    %[[POS:[^:]*]]: tensor<1xi64> {bufferization.writable = false, dsv3.bounds = {max = 7 : i64, min = 0 : i64, why = "test"}},
// CHECK-SAME:    %[[KV:[^:]*]]: tensor<1x8x4xbf16> {bufferization.writable = true, dsv3.state = "layers.0.kv"},
// CHECK-SAME:    %[[W:[^:]*]]: tensor<2x4x4xf32> {bufferization.writable = false, dsv3.expert_pointers, dsv3.parameter = "experts.{e}.w", dsv3.stacked})
// CHECK:       %[[NEW:.*]] = tensor.insert_slice
// CHECK:       %[[M:.*]] = bufferization.materialize_in_destination %[[NEW]] in %[[KV]]
// CHECK:       %[[C:.*]] = bufferization.alloc_tensor() copy(%[[POS]])
// CHECK:       %[[CW:.*]] = bufferization.alloc_tensor() copy(%[[W]])
// CHECK:       return %[[M]], %[[C]], %[[CW]]
func.func @step(%pos: tensor<1xi64> {dsv3.bounds = {min = 0 : i64, max = 7 : i64, why = "test"}},
                %kv: tensor<1x8x4xbf16> {dsv3.state = "layers.0.kv"})
    -> (tensor<1x8x4xbf16> {dsv3.state = "layers.0.kv"}, tensor<1xi64>, tensor<2x4x4xf32>) {
  %row = tensor.empty() : tensor<1x1x4xbf16>
  %new = tensor.insert_slice %row into %kv[0, 0, 0] [1, 1, 4] [1, 1, 1] : tensor<1x1x4xbf16> into tensor<1x8x4xbf16>
  %w = dsv3.parameter "experts.{e}.w" stacked : tensor<2x4x4xf32>
  return %new, %pos, %w : tensor<1x8x4xbf16>, tensor<1xi64>, tensor<2x4x4xf32>
}

// -----

// expected-error @+1 {{result 0 updates state 'kv' but no argument carries {dsv3.state = "kv"}}}
func.func @untied(%kv: tensor<4xf32>) -> (tensor<4xf32> {dsv3.state = "kv"}) {
  return %kv : tensor<4xf32>
}

// -----

// expected-error @+1 {{result 0 updates state 'kv' with type 'tensor<8xf32>' but the state argument is 'tensor<4xf32>'}}
func.func @mistyped(%kv: tensor<4xf32> {dsv3.state = "kv"}) -> (tensor<8xf32> {dsv3.state = "kv"}) {
  %e = tensor.empty() : tensor<8xf32>
  return %e : tensor<8xf32>
}

// -----

// expected-error @+1 {{state 'kv' is updated by two results}}
func.func @twice(%kv: tensor<4xf32> {dsv3.state = "kv"}) -> (tensor<4xf32> {dsv3.state = "kv"}, tensor<4xf32> {dsv3.state = "kv"}) {
  return %kv, %kv : tensor<4xf32>, tensor<4xf32>
}

// -----

// expected-error @+1 {{state 'kv' names two arguments}}
func.func @two_args(%a: tensor<4xf32> {dsv3.state = "kv"}, %b: tensor<4xf32> {dsv3.state = "kv"}) {
  return
}

// -----

// A dynamic token dimension: -1 in the shape, named in dynamic_dims (with
// its range on the input; the output takes the input's symbol), and a
// bound reduced by it.
// CHECK: {\22dtype\22:\22i64\22,\22dynamic_dims\22:[{\22dim\22:1,\22max\22:64,\22min\22:1,\22symbol\22:\22tokens\22}],\22name\22:\22ids\22,\22role\22:\22input\22,\22shape\22:[1,-1]}
// CHECK-SAME: {\22bounds\22:{\22max\22:64,\22min\22:0,\22minus\22:\22tokens\22,\22why\22:\22rows\22},\22dtype\22:\22i64\22,\22name\22:\22start\22,\22role\22:\22input\22,\22shape\22:[1]}
// CHECK-SAME: {\22dtype\22:\22i64\22,\22dynamic_dims\22:[{\22dim\22:1,\22symbol\22:\22tokens\22}],\22name\22:\22out\22,\22role\22:\22output\22,\22shape\22:[1,-1]}
func.func @tokens(%x: tensor<1x?xi64> {dsv3.name = "ids", dsv3.dynamic_dims = [{dim = 1 : i64, symbol = "tokens", min = 1 : i64, max = 64 : i64}]},
                  %s: tensor<1xi64> {dsv3.name = "start", dsv3.bounds = {min = 0 : i64, max = 64 : i64, minus = "tokens", why = "rows"}})
    -> (tensor<1x?xi64> {dsv3.name = "out", dsv3.dynamic_dims = [{dim = 1 : i64, symbol = "tokens"}]}) {
  return %x : tensor<1x?xi64>
}

// -----

// expected-error @+1 {{dsv3.dynamic_dims of entry input 'arg0' needs {dim, symbol, min, max} per dimension}}
func.func @no_range(%x: tensor<?xi64> {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "t"}]}) {
  return
}

// -----

// expected-error @+1 {{entry output 'result0': dynamic dimension 0 is 'rows', which no input's dimension defines}}
func.func @undefined_symbol(%x: tensor<?xi64> {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "t", min = 1 : i64, max = 4 : i64}]})
    -> (tensor<?xi64> {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "rows"}]}) {
  return %x : tensor<?xi64>
}

// -----

// expected-error @+1 {{dsv3.bounds 'minus' must name a dynamic dimension of an earlier input, got "t"}}
func.func @minus_unknown(%s: tensor<1xi64> {dsv3.bounds = {min = 0 : i64, max = 8 : i64, minus = "t", why = ""}}) {
  return
}

// -----

// What the runtime's loader would refuse is refused here, with the same
// meaning. One parameter name, two shapes in two entries:
func.func @a(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = dsv3.parameter "w" : tensor<4xf32>
  return %w : tensor<4xf32>
}
// expected-error @+1 {{parameter 'w' is f32 [8] in entry 'b' but f32 [4] in entry 'a' (entries share it by name)}}
func.func @b(%x: tensor<4xf32>) -> tensor<8xf32> {
  %w = dsv3.parameter "w" : tensor<8xf32>
  return %w : tensor<8xf32>
}

// -----

// Two states of one name with different shapes.
func.func @c(%kv: tensor<4xf32> {dsv3.state = "kv"}) -> tensor<4xf32> {
  return %kv : tensor<4xf32>
}
// expected-error @+1 {{state 'kv' is f32 [8] in entry 'd' but f32 [4] in entry 'c' (entries share it by name)}}
func.func @d(%kv: tensor<8xf32> {dsv3.state = "kv"}) -> tensor<8xf32> {
  return %kv : tensor<8xf32>
}

// -----

// Two inputs given one dsv3.name.
// expected-error @+1 {{entry 'e' has two arguments named 'x' (the runtime addresses arguments by name)}}
func.func @e(%a: tensor<4xf32> {dsv3.name = "x"}, %b: tensor<4xf32> {dsv3.name = "x"}) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

// -----

// A parameter named like the positional name of an unnamed input.
// expected-error @+1 {{entry 'f' has two arguments named 'arg0' (the runtime addresses arguments by name)}}
func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {
  %w = dsv3.parameter "arg0" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{dsv3.bounds has min 5 > max 3 (no value would be accepted)}}
func.func @g(%i: tensor<1xi64> {dsv3.bounds = {min = 5 : i64, max = 3 : i64, why = "test"}}) -> tensor<1xi64> {
  return %i : tensor<1xi64>
}

// -----

// A possible copy names the parameter it may share in the metadata.
// CHECK: {\22dtype\22:\22bf16\22,\22name\22:\22model.layers.61.embed_tokens.weight\22,\22role\22:\22parameter\22,\22same_as\22:\22model.embed_tokens.weight\22,\22shape\22:[16,8]}
func.func @mtp_embed() -> (tensor<16x8xbf16>, tensor<16x8xbf16>) {
  %m = dsv3.parameter "model.embed_tokens.weight" : tensor<16x8xbf16>
  %w = dsv3.parameter "model.layers.61.embed_tokens.weight" same_as "model.embed_tokens.weight" : tensor<16x8xbf16>
  return %m, %w : tensor<16x8xbf16>, tensor<16x8xbf16>
}

// -----

// expected-error @+1 {{parameter 'model.layers.61.shared_head.head.weight' is same_as 'lm_head.weight', which no entry of the module reads}}
func.func @same_as_missing() -> tensor<16x8xbf16> {
  %w = dsv3.parameter "model.layers.61.shared_head.head.weight" same_as "lm_head.weight" : tensor<16x8xbf16>
  return %w : tensor<16x8xbf16>
}

// -----

// expected-error @+1 {{parameter 'model.layers.61.shared_head.head.weight' is bf16 [16,8] but its same_as 'lm_head.weight' is bf16 [16,4]}}
func.func @same_as_other_shape() -> (tensor<16x4xbf16>, tensor<16x8xbf16>) {
  %m = dsv3.parameter "lm_head.weight" : tensor<16x4xbf16>
  %w = dsv3.parameter "model.layers.61.shared_head.head.weight" same_as "lm_head.weight" : tensor<16x8xbf16>
  return %m, %w : tensor<16x4xbf16>, tensor<16x8xbf16>
}

// -----

// A parameter quantized at bind time names its source dtype and block; its
// scales name it. Entries agree on both.
// CHECK: {\22block\22:[128,128],\22dtype\22:\22f8e4m3fn\22,\22name\22:\22lm_head.weight\22,\22quantized_from\22:\22bf16\22,\22role\22:\22parameter\22,\22shape\22:[300,200]}
// CHECK-SAME: {\22dtype\22:\22f32\22,\22name\22:\22lm_head.weight_scale_inv\22,\22role\22:\22parameter\22,\22scales_of\22:\22lm_head.weight\22,\22shape\22:[3,2]}
func.func @head() -> (tensor<300x200xf8E4M3FN>, tensor<3x2xf32>) {
  %w = dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
  %s = dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight" : tensor<3x2xf32>
  return %w, %s : tensor<300x200xf8E4M3FN>, tensor<3x2xf32>
}

// -----

// expected-error @+1 {{parameter 'lm_head.weight_scale_inv' is scales_of 'lm_head.weight', which no entry of the module reads as quantized_from}}
func.func @scales_of_missing() -> tensor<3x2xf32> {
  %s = dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight" : tensor<3x2xf32>
  return %s : tensor<3x2xf32>
}

// -----

// expected-error @+1 {{parameter 'lm_head.weight_scale_inv' has shape [2, 2] but the 128x128 block scales of 'lm_head.weight' have shape [3, 2]}}
func.func @scales_of_wrong_shape() -> (tensor<300x200xf8E4M3FN>, tensor<2x2xf32>) {
  %w = dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
  %s = dsv3.parameter "lm_head.weight_scale_inv" scales_of "lm_head.weight" : tensor<2x2xf32>
  return %w, %s : tensor<300x200xf8E4M3FN>, tensor<2x2xf32>
}

// -----

// The entries share a parameter by name, so they must agree on how it is
// derived.
func.func @bf16_head() -> tensor<300x200xf8E4M3FN> {
  %w = dsv3.parameter "lm_head.weight" quantized_from(bf16) : tensor<300x200xf8E4M3FN>
  return %w : tensor<300x200xf8E4M3FN>
}
// expected-error @+1 {{parameter 'lm_head.weight' is f8e4m3fn [300,200] quantized_from f32 in entry 'f32_head' but f8e4m3fn [300,200] quantized_from bf16 in entry 'bf16_head'}}
func.func @f32_head() -> tensor<300x200xf8E4M3FN> {
  %w = dsv3.parameter "lm_head.weight" quantized_from(f32) : tensor<300x200xf8E4M3FN>
  return %w : tensor<300x200xf8E4M3FN>
}
