// RUN: dsv3-opt %s --split-input-file --dsv3-gpu-map-foralls --verify-diagnostics

// A dynamic block count maps to grid x only (y and z hold at most 65535).
func.func @dynamic_grid_y(%n: index, %out: memref<?xf32>) {
  %z = arith.constant 0.0 : f32
  // expected-error @below {{maps only a static count of at most 65535 blocks to y and z}}
  scf.forall (%b) in (%n) {
    scf.forall (%t) in (32) {
      memref.store %z, %out[%b] : memref<?xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<y>]}
  return
}

// -----

func.func @not_normalized(%out: memref<?xf32>) {
  %z = arith.constant 0.0 : f32
  // expected-error @below {{maps to blocks only with normalized bounds in at most 3 dimensions}}
  scf.forall (%b) = (1) to (8) step (1) {
    scf.forall (%t) in (32) {
      memref.store %z, %out[%b] : memref<?xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

func.func @dynamic_threads(%n: index, %out: memref<?xf32>) {
  %z = arith.constant 0.0 : f32
  scf.forall (%b) in (4) {
    // expected-error @below {{maps to threads only with static, normalized bounds}}
    scf.forall (%t) in (%n) {
      memref.store %z, %out[%t] : memref<?xf32>
    } {mapping = [#gpu.thread<x>]}
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

func.func @tensor_forall(%init: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @below {{maps to a gpu.launch only once bufferized}}
  %r = scf.forall (%b) in (4) shared_outs(%o = %init) -> (tensor<4xf32>) {
  } {mapping = [#gpu.block<x>]}
  return %r : tensor<4xf32>
}

// -----

func.func @twice_x(%out: memref<4x4xf32>) {
  %z = arith.constant 0.0 : f32
  // expected-error @below {{maps to blocks x, y and z only, each at most once}}
  scf.forall (%a, %b) in (4, 4) {
    memref.store %z, %out[%a, %b] : memref<4x4xf32>
  } {mapping = [#gpu.block<x>, #gpu.block<x>]}
  return
}

// -----

func.func @nested_shared(%c: i1, %out: memref<4xf32>) {
  %z = arith.constant 0.0 : f32
  scf.forall (%b) in (4) {
    scf.if %c {
      // expected-error @below {{shared memory must be allocated at the top level of the block forall}}
      %s = memref.alloc() : memref<32xf32, #gpu.address_space<workgroup>>
      scf.forall (%t) in (32) {
        memref.store %z, %s[%t] : memref<32xf32, #gpu.address_space<workgroup>>
      } {mapping = [#gpu.thread<x>]}
    }
  } {mapping = [#gpu.block<x>]}
  return
}

// -----

// A warp forall takes whole warps of the block's threads: 16 warps need
// 512, and a 16 x 16 block does not grow.
func.func @too_many_warps(%out: memref<16x32xf32>) {
  %z = arith.constant 0.0 : f32
  scf.forall (%b) in (4) {
    scf.forall (%y, %x) in (16, 16) {
      memref.store %z, %out[%y, %x] : memref<16x32xf32>
    } {mapping = [#gpu.thread<y>, #gpu.thread<x>]}
    // expected-error @below {{maps 16 warps to a block of 256 threads (whole warps of 32 needed)}}
    scf.forall (%w) in (16) {
      memref.store %z, %out[%w, %b] : memref<16x32xf32>
    } {mapping = [#gpu.warp<linear_dim_0>]}
  } {mapping = [#gpu.block<x>]}
  return
}
