// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-warp-mma --verify-diagnostics

// f32 operands that are not widened from 16-bit or FP8 values would be
// rounded by a tensor core's 16-bit inputs.
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @f32_operands(%xs: memref<16x16xf32>, %ws: memref<8x16xf32>, %out: memref<16x8xf32>) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f32
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  scf.forall (%w) in (1) {
    %a = vector.transfer_read %xs[%c0, %c0], %p {in_bounds = [true, true]} : memref<16x16xf32>, vector<16x16xf32>
    %b = vector.transfer_read %ws[%c0, %c0], %p {in_bounds = [true, true]} : memref<8x16xf32>, vector<8x16xf32>
    // expected-error @below {{becomes mma.sync only when both operands hold bf16, f16 or FP8 values}}
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %b, %zero : vector<16x16xf32>, vector<8x16xf32> into vector<16x8xf32>
    vector.transfer_write %d, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<16x8xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

// Only the m16n8k16 shape with B as [n, k].
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @wide(%xs: memref<16x32xbf16>, %ws: memref<8x32xbf16>, %out: memref<16x8xf32>) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : bf16
  %zero = arith.constant dense<0.0> : vector<16x8xf32>
  scf.forall (%w) in (1) {
    %a = vector.transfer_read %xs[%c0, %c0], %p {in_bounds = [true, true]} : memref<16x32xbf16>, vector<16x32xbf16>
    %b = vector.transfer_read %ws[%c0, %c0], %p {in_bounds = [true, true]} : memref<8x32xbf16>, vector<8x32xbf16>
    // expected-error @below {{becomes mma.sync only as an m16n8k16 product [16, 16] (m, k) x [8, 16] (n, k) -> [16, 8] f32 (m, n)}}
    %d = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %a, %b, %zero : vector<16x32xbf16>, vector<8x32xbf16> into vector<16x8xf32>
    vector.transfer_write %d, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x8xf32>, memref<16x8xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

// A tile op the layout has no rule for (a transpose moves elements between
// lanes).
func.func @transpose(%in: memref<16x16xf32>, %out: memref<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f32
  scf.forall (%w) in (1) {
    %a = vector.transfer_read %in[%c0, %c0], %p {in_bounds = [true, true]} : memref<16x16xf32>, vector<16x16xf32>
    // expected-error @below {{is not distributable over a warp's lanes}}
    %t = vector.transpose %a, [1, 0] : vector<16x16xf32> to vector<16x16xf32>
    vector.transfer_write %t, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x16xf32>, memref<16x16xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

// A read that broadcasts a row has no per-lane form here.
func.func @broadcast_read(%in: memref<16xf32>, %out: memref<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f32
  scf.forall (%w) in (1) {
    // expected-error @below {{distributes over lanes only as an in-bounds, unmasked, minor-identity transfer of a memref with unit-stride rows}}
    %a = vector.transfer_read %in[%c0], %p {in_bounds = [true, true], permutation_map = affine_map<(d0) -> (0, d0)>} : memref<16xf32>, vector<16x16xf32>
    vector.transfer_write %a, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x16xf32>, memref<16x16xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

// A branch that yields a tile (only loops carry pieces; a branch without
// tile results is distributed inside).
func.func @if_yields_tile(%in: memref<16x16xf32>, %out: memref<16x16xf32>, %c: i1) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f32
  scf.forall (%w) in (1) {
    // expected-error @below {{is not distributable over a warp's lanes}}
    %t = scf.if %c -> vector<16x16xf32> {
      %a = vector.transfer_read %in[%c0, %c0], %p {in_bounds = [true, true]} : memref<16x16xf32>, vector<16x16xf32>
      scf.yield %a : vector<16x16xf32>
    } else {
      %z = arith.constant dense<0.0> : vector<16x16xf32>
      scf.yield %z : vector<16x16xf32>
    }
    vector.transfer_write %t, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x16xf32>, memref<16x16xf32>
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

// Tiles in a region of another op (here an scf.while) are not rewritten.
func.func @in_while(%in: memref<16x16xf32>, %out: memref<16x16xf32>, %c: i1) {
  %c0 = arith.constant 0 : index
  %p = arith.constant 0.0 : f32
  scf.forall (%w) in (1) {
    // expected-error @below {{holds warp tiles in a region this pass does not distribute}}
    scf.while : () -> () {
      scf.condition(%c)
    } do {
      %a = vector.transfer_read %in[%c0, %c0], %p {in_bounds = [true, true]} : memref<16x16xf32>, vector<16x16xf32>
      vector.transfer_write %a, %out[%c0, %c0] {in_bounds = [true, true]} : vector<16x16xf32>, memref<16x16xf32>
      scf.yield
    }
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return
}

// -----

func.func @tensors(%t: tensor<16x8xf32>) -> tensor<16x8xf32> {
  // expected-error @below {{distributes over lanes only once bufferized}}
  %r = scf.forall (%w) in (1) shared_outs(%o = %t) -> (tensor<16x8xf32>) {
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %o into %o[0, 0] [16, 8] [1, 1] : tensor<16x8xf32> into tensor<16x8xf32>
    }
  } {mapping = [#gpu.warp<linear_dim_0>]}
  return %r : tensor<16x8xf32>
}
