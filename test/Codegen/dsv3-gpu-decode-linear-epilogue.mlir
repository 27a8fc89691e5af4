// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-decode-linear | FileCheck %s
// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-decode-linear=fuse-epilogues=false | FileCheck %s --check-prefix=NOFUSE

// SwiGLU after gate_proj and up_proj of the same input (a dense MLP or the
// shared expert at 2 tokens): one kernel. Each block (8 weight rows) runs
// phase 1 for gate_proj's weight and then for up_proj's, each into its own
// [8, 32, 2] buffer of lane sums in shared memory; phase 2, a thread per
// (row, token), adds each buffer's 32 lane sums in lane order (as the
// unfused kernels do) and applies the generic's body to the two sums. The
// f32 intermediates are never written.
// CHECK-LABEL: func.func @swiglu
// CHECK-SAME:  %[[X:[a-z0-9]+]]: tensor<2x64xbf16>, %[[WG:[a-z0-9]+]]: tensor<16x64xf8E4M3FN>, %[[SG:[a-z0-9]+]]: tensor<1x1xf32>, %[[WU:[a-z0-9]+]]: tensor<16x64xf8E4M3FN>, %[[SU:[a-z0-9]+]]: tensor<1x1xf32>
// CHECK-NOT:   dsv3.linear
// CHECK:       %[[Y:.*]] = scf.forall (%{{.*}}) in (2) shared_outs(%[[YO:.*]] = %{{.*}}) -> (tensor<2x16xbf16>)
// CHECK:         %[[BG:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<8x32x2xf32>
// CHECK:         %[[PG:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (8, 32) shared_outs(%{{.*}} = %[[BG]])
// CHECK:           vector.transfer_read %[[WG]]
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         %[[BU:.*]] = bufferization.alloc_tensor() {memory_space = #gpu.address_space<workgroup>} : tensor<8x32x2xf32>
// CHECK:         %[[PU:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (8, 32) shared_outs(%{{.*}} = %[[BU]])
// CHECK:           vector.transfer_read %[[WU]]
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:         scf.forall (%{{.*}}, %{{.*}}) in (8, 2) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<2x8xbf16>)
// CHECK:           %[[G:.*]] = scf.for {{.*}} -> (f32)
// CHECK:             tensor.extract %[[PG]]
// CHECK:           %[[U:.*]] = scf.for {{.*}} -> (f32)
// CHECK:             tensor.extract %[[PU]]
// CHECK:           %[[NEG:.*]] = arith.negf %[[G]] : f32
// CHECK:           %[[EXP:.*]] = math.exp %[[NEG]] : f32
// CHECK:           %[[DEN:.*]] = arith.addf %{{.*}}, %[[EXP]] : f32
// CHECK:           %[[SILU:.*]] = arith.divf %[[G]], %[[DEN]] : f32
// CHECK:           %[[H:.*]] = arith.mulf %[[SILU]], %[[U]] : f32
// CHECK:           arith.truncf %[[H]] : f32 to bf16
// CHECK:         } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK-NOT:   linalg.generic
// CHECK:       return %[[Y]]
// Without fusion: two GEMV kernels and the generic.
// NOFUSE-LABEL: func.func @swiglu
// NOFUSE-COUNT-2: mapping = [#gpu.block<x>]}
// NOFUSE:       linalg.generic
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @swiglu(%x: tensor<2x64xbf16>, %wg: tensor<16x64xf8E4M3FN>, %sg: tensor<1x1xf32>,
                  %wu: tensor<16x64xf8E4M3FN>, %su: tensor<1x1xf32>) -> tensor<2x16xbf16> {
  %g = dsv3.linear %x, %wg weight_scale_inv(%sg : tensor<1x1xf32>) : (tensor<2x64xbf16>, tensor<16x64xf8E4M3FN>) -> tensor<2x16xf32>
  %u = dsv3.linear %x, %wu weight_scale_inv(%su : tensor<1x1xf32>) : (tensor<2x64xbf16>, tensor<16x64xf8E4M3FN>) -> tensor<2x16xf32>
  %e = tensor.empty() : tensor<2x16xbf16>
  %h = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<2x16xf32>, tensor<2x16xf32>) outs(%e : tensor<2x16xbf16>) {
  ^bb0(%a: f32, %b: f32, %out: bf16):
    %one = arith.constant 1.0 : f32
    %n = arith.negf %a : f32
    %x2 = math.exp %n : f32
    %d = arith.addf %one, %x2 : f32
    %s = arith.divf %a, %d : f32
    %m = arith.mulf %s, %b : f32
    %r = arith.truncf %m : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<2x16xbf16>
  return %h : tensor<2x16xbf16>
}

// -----

// gate_proj's result has a second use: only up_proj is fused. gate_proj is
// a GEMV kernel of its own, and the fused kernel reads its result at each
// element's [token, column].
// CHECK-LABEL: func.func @used_twice
// CHECK:       %[[G:.*]] = scf.forall
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK:       %[[H:.*]] = scf.forall
// CHECK:           %[[GE:.*]] = tensor.extract %[[G]][%{{.*}}, %{{.*}}] : tensor<1x16xf32>
// CHECK:           arith.mulf %[[GE]], %{{.*}} : f32
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK-NOT:   linalg.generic
// CHECK:       return %[[H]], %[[G]]
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @used_twice(%x: tensor<1x64xbf16>, %wg: tensor<16x64xbf16>, %wu: tensor<16x64xbf16>)
    -> (tensor<1x16xf32>, tensor<1x16xf32>) {
  %g = dsv3.linear %x, %wg : (tensor<1x64xbf16>, tensor<16x64xbf16>) -> tensor<1x16xf32>
  %u = dsv3.linear %x, %wu : (tensor<1x64xbf16>, tensor<16x64xbf16>) -> tensor<1x16xf32>
  %e = tensor.empty() : tensor<1x16xf32>
  %h = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<1x16xf32>, tensor<1x16xf32>) outs(%e : tensor<1x16xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x16xf32>
  return %h, %g : tensor<1x16xf32>, tensor<1x16xf32>
}

// -----

// Linears of different inputs do not share blocks: the first is fused, the
// second is read like any other input.
// CHECK-LABEL: func.func @two_inputs
// CHECK:       %[[U:.*]] = scf.forall
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK:       %[[H:.*]] = scf.forall
// CHECK:           %[[UE:.*]] = tensor.extract %[[U]]
// CHECK:           arith.mulf %{{.*}}, %[[UE]] : f32
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK-NOT:   linalg.generic
// CHECK:       return %[[H]]
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @two_inputs(%x: tensor<1x64xbf16>, %x2: tensor<1x64xbf16>, %wg: tensor<16x64xbf16>, %wu: tensor<16x64xbf16>)
    -> tensor<1x16xf32> {
  %g = dsv3.linear %x, %wg : (tensor<1x64xbf16>, tensor<16x64xbf16>) -> tensor<1x16xf32>
  %u = dsv3.linear %x2, %wu : (tensor<1x64xbf16>, tensor<16x64xbf16>) -> tensor<1x16xf32>
  %e = tensor.empty() : tensor<1x16xf32>
  %h = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<1x16xf32>, tensor<1x16xf32>) outs(%e : tensor<1x16xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<1x16xf32>
  return %h : tensor<1x16xf32>
}

// -----

// The decoder layer's residual: o_proj's bf16 result, reshaped to
// [1, S, H], added to the residual stream by a linalg.add. The add becomes
// the kernel's epilogue (o_proj's sum rounded to bf16, the residual read at
// [0, token, column], their bf16 sum); the kernel writes a [S, H] view of a
// [1, S, H] tensor, so no copy follows.
// CHECK-LABEL: func.func @residual
// CHECK-SAME:  %[[R:[a-z0-9]+]]: tensor<1x2x64xbf16>
// CHECK:       %[[V:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<1x2x64xbf16> into tensor<2x64xbf16>
// CHECK:       %[[Y:.*]] = scf.forall (%{{.*}}) in (8) shared_outs(%{{.*}} = %[[V]]) -> (tensor<2x64xbf16>)
// CHECK:           %[[S:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK:           %[[RE:.*]] = tensor.extract %[[R]][%c0{{.*}}, %{{.*}}, %{{.*}}] : tensor<1x2x64xbf16>
// CHECK:           arith.addf %[[RE]], %[[S]] : bf16
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK:       %[[OUT:.*]] = tensor.expand_shape %[[Y]] {{\[\[}}0, 1], [2]] output_shape [1, 2, 64]
// CHECK-NOT:   linalg.add
// CHECK:       return %[[OUT]]
func.func @residual(%r: tensor<1x2x64xbf16>, %x: tensor<2x128xbf16>, %w: tensor<64x128xf8E4M3FN>,
                    %s: tensor<1x1xf32>) -> tensor<1x2x64xbf16> {
  %o = dsv3.linear %x, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<2x128xbf16>, tensor<64x128xf8E4M3FN>) -> tensor<2x64xbf16>
  %o3 = tensor.expand_shape %o [[0, 1], [2]] output_shape [1, 2, 64] : tensor<2x64xbf16> into tensor<1x2x64xbf16>
  %e = tensor.empty() : tensor<1x2x64xbf16>
  %y = linalg.add ins(%r, %o3 : tensor<1x2x64xbf16>, tensor<1x2x64xbf16>) outs(%e : tensor<1x2x64xbf16>) -> tensor<1x2x64xbf16>
  return %y : tensor<1x2x64xbf16>
}

// -----

// A chain: the MoE's `routed + shared` sum (f32, rounded to bf16), reshaped
// to [1, S, H] and added to the residual. Both consumers become the shared
// down_proj's epilogue, applied in order: the routed output and then the
// residual are read at the element's coordinates.
// CHECK-LABEL: func.func @chain
// CHECK-SAME:  %[[R:[a-z0-9]+]]: tensor<1x2x64xbf16>, %[[ROUTED:[a-z0-9]+]]: tensor<2x64xf32>
// CHECK:       %[[Y:.*]] = scf.forall (%{{.*}}) in (8) shared_outs(%{{.*}}) -> (tensor<2x64xbf16>)
// CHECK:           %[[RO:.*]] = tensor.extract %[[ROUTED]][%{{.*}}, %{{.*}}] : tensor<2x64xf32>
// CHECK:           %[[SUM:.*]] = arith.addf %[[RO]], %{{.*}} : f32
// CHECK:           %[[B:.*]] = arith.truncf %[[SUM]] : f32 to bf16
// CHECK:           %[[RE:.*]] = tensor.extract %[[R]][%c0{{.*}}, %{{.*}}, %{{.*}}] : tensor<1x2x64xbf16>
// CHECK:           arith.addf %[[RE]], %[[B]] : bf16
// CHECK:       } {dsv3.kernel_cost = {{.*}}, mapping = [#gpu.block<x>]}
// CHECK:       %[[OUT:.*]] = tensor.expand_shape %[[Y]]
// CHECK-NOT:   linalg.
// CHECK:       return %[[OUT]]
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @chain(%r: tensor<1x2x64xbf16>, %routed: tensor<2x64xf32>, %h: tensor<2x128xf32>,
                 %w: tensor<64x128xf8E4M3FN>, %s: tensor<1x1xf32>) -> tensor<1x2x64xbf16> {
  %d = dsv3.linear %h, %w weight_scale_inv(%s : tensor<1x1xf32>) : (tensor<2x128xf32>, tensor<64x128xf8E4M3FN>) -> tensor<2x64xf32>
  %e = tensor.empty() : tensor<2x64xbf16>
  %m = linalg.generic {indexing_maps = [#map, #map, #map], iterator_types = ["parallel", "parallel"]}
      ins(%routed, %d : tensor<2x64xf32>, tensor<2x64xf32>) outs(%e : tensor<2x64xbf16>) {
  ^bb0(%a: f32, %b: f32, %out: bf16):
    %sum = arith.addf %a, %b : f32
    %t = arith.truncf %sum : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x64xbf16>
  %m3 = tensor.expand_shape %m [[0, 1], [2]] output_shape [1, 2, 64] : tensor<2x64xbf16> into tensor<1x2x64xbf16>
  %e3 = tensor.empty() : tensor<1x2x64xbf16>
  %y = linalg.add ins(%r, %m3 : tensor<1x2x64xbf16>, tensor<1x2x64xbf16>) outs(%e3 : tensor<1x2x64xbf16>) -> tensor<1x2x64xbf16>
  return %y : tensor<1x2x64xbf16>
}
