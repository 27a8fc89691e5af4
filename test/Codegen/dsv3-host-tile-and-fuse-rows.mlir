// RUN: dsv3-opt %s --split-input-file --dsv3-host-tile-and-fuse-rows | FileCheck %s

// RMSNorm as the definition writes it, then a cast to f32: the cast ends the
// chain and is tiled by rows; the zero fill, the sum of squares and the
// scaling each compute one row inside the same loop, into scratch tiles of
// a row. The input cast has two users (the sum and the scaling), so fusing it
// would compute it twice: it is a chain of its own, before.
// CHECK-LABEL: func.func @rms_norm
// CHECK:       %[[XB:.*]] = scf.forall (%[[I:.*]]) in (%{{.*}}) shared_outs({{.*}}) -> (tensor<?x1536xbf16>)
// CHECK:         linalg.copy {{.*}} -> tensor<1x1536xbf16>
// CHECK:       %[[Y:.*]] = scf.forall (%[[J:.*]]) in (%{{.*}}) shared_outs(%[[O:.*]] = %{{.*}}) -> (tensor<?x1536xf32>)
// CHECK:         %[[ZERO:.*]] = tensor.empty() : tensor<1xf32>
// CHECK:         %[[Z:.*]] = linalg.fill ins({{.*}}) outs(%[[ZERO]] : tensor<1xf32>)
// CHECK:         %[[S:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%[[Z]] : tensor<1xf32>)
// CHECK:         %[[T:.*]] = tensor.empty() : tensor<1x1536xbf16>
// CHECK:         %[[N:.*]] = linalg.generic {{.*}} ins({{.*}}, %[[S]], %{{.*}} : tensor<1x1536xbf16>, tensor<1xf32>, tensor<1536xbf16>) outs(%[[T]] : tensor<1x1536xbf16>)
// CHECK:         %[[C:.*]] = linalg.copy ins(%[[N]] : tensor<1x1536xbf16>)
// CHECK:         tensor.parallel_insert_slice %[[C]] into %[[O]][%[[J]], 0] [1, 1536]
// CHECK-NOT:   linalg.
// CHECK:       return %[[Y]]
#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @rms_norm(%x: tensor<?x1536xf32>, %w: tensor<1536xbf16>) -> tensor<?x1536xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x1536xf32>
  %e = tensor.empty(%n) : tensor<?x1536xbf16>
  %xb = linalg.copy ins(%x : tensor<?x1536xf32>) outs(%e : tensor<?x1536xbf16>) -> tensor<?x1536xbf16>
  %e1 = tensor.empty(%n) : tensor<?xf32>
  %z = linalg.fill ins(%zero : f32) outs(%e1 : tensor<?xf32>) -> tensor<?xf32>
  %s = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%xb : tensor<?x1536xbf16>) outs(%z : tensor<?xf32>) {
  ^bb0(%a: bf16, %acc: f32):
    %f = arith.extf %a : bf16 to f32
    %m = arith.mulf %f, %f : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %y = linalg.generic {indexing_maps = [#rows, #row, #col, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%xb, %s, %w : tensor<?x1536xbf16>, tensor<?xf32>, tensor<1536xbf16>) outs(%e : tensor<?x1536xbf16>) {
  ^bb0(%a: bf16, %ss: f32, %ww: bf16, %o: bf16):
    %f = arith.extf %a : bf16 to f32
    %g = arith.extf %ww : bf16 to f32
    %m = arith.mulf %f, %ss : f32
    %m2 = arith.mulf %m, %g : f32
    %t = arith.truncf %m2 : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<?x1536xbf16>
  %e2 = tensor.empty(%n) : tensor<?x1536xf32>
  %out = linalg.copy ins(%y : tensor<?x1536xbf16>) outs(%e2 : tensor<?x1536xf32>) -> tensor<?x1536xf32>
  return %out : tensor<?x1536xf32>
}

// -----

// A producer broadcast along the rows (a weight's cast) is the same tile
// for every row: fused, it would be computed again per row, so it stays a
// chain of its own (one op along its only loop: not tiled at all).
// CHECK-LABEL: func.func @broadcast_operand
// CHECK:       %[[WF:.*]] = linalg.copy ins(%{{.*}} : tensor<7168xbf16>) outs(%{{.*}} : tensor<7168xf32>)
// CHECK:       scf.forall (%{{.*}}) in (%{{.*}})
// CHECK:         linalg.generic {{.*}} ins(%{{.*}}, %[[WF]] : tensor<1x7168xf32>, tensor<7168xf32>)
// CHECK-NOT:     linalg.copy
// CHECK:         scf.forall.in_parallel
#rows = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @broadcast_operand(%x: tensor<?x7168xf32>, %w: tensor<7168xbf16>) -> tensor<?x7168xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x7168xf32>
  %ew = tensor.empty() : tensor<7168xf32>
  %wf = linalg.copy ins(%w : tensor<7168xbf16>) outs(%ew : tensor<7168xf32>) -> tensor<7168xf32>
  %e = tensor.empty(%n) : tensor<?x7168xf32>
  %y = linalg.generic {indexing_maps = [#rows, #col, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %wf : tensor<?x7168xf32>, tensor<7168xf32>) outs(%e : tensor<?x7168xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %m = arith.mulf %a, %b : f32
    linalg.yield %m : f32
  } -> tensor<?x7168xf32>
  return %y : tensor<?x7168xf32>
}

// -----

// Softmax's exponentials and their sum over a dynamic number of keys. The
// max is a row of one element: it joins the exponentials' loop. A row of the
// exponentials has no static size, so it cannot be a thread's scratch tile:
// the sum is a chain of its own that reads the exponentials from memory.
// CHECK-LABEL: func.func @dynamic_row
// CHECK:       %[[EXP:.*]] = scf.forall (%{{.*}}) in (128)
// CHECK:         linalg.fill {{.*}} -> tensor<1xf32>
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<1xf32>)
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<1x?xf32>)
// CHECK:         scf.forall.in_parallel
// CHECK:       scf.forall (%{{.*}}) in (128)
// CHECK:         tensor.extract_slice %[[EXP]]
// CHECK:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%{{.*}} : tensor<1xf32>)
// CHECK-NOT:     linalg.generic
// CHECK:         scf.forall.in_parallel
#rows = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @dynamic_row(%x: tensor<128x?xf32>) -> tensor<128xf32> {
  %c1 = arith.constant 1 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c1 : tensor<128x?xf32>
  %e1 = tensor.empty() : tensor<128xf32>
  %z = linalg.fill ins(%ninf : f32) outs(%e1 : tensor<128xf32>) -> tensor<128xf32>
  %max = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<128x?xf32>) outs(%z : tensor<128xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.maximumf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<128xf32>
  %e = tensor.empty(%n) : tensor<128x?xf32>
  %exp = linalg.generic {indexing_maps = [#rows, #row, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<128x?xf32>, tensor<128xf32>) outs(%e : tensor<128x?xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %ex = math.exp %d : f32
    linalg.yield %ex : f32
  } -> tensor<128x?xf32>
  %e2 = tensor.empty() : tensor<128xf32>
  %z2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<128xf32>) -> tensor<128xf32>
  %sum = linalg.generic {indexing_maps = [#rows, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<128x?xf32>) outs(%z2 : tensor<128xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  } -> tensor<128xf32>
  return %sum : tensor<128xf32>
}

// -----

// A row is the innermost loop (one token's [1, 7168]): nothing to tile,
// the op's team splits the row as before. An op inside a kernel's loop, and
// a fill, are not chains.
// CHECK-LABEL: func.func @not_tiled
// CHECK-NOT:   scf.forall
// CHECK:       linalg.generic {{.*}} outs(%{{.*}} : tensor<1x7168xf32>)
// CHECK:       linalg.fill
// CHECK:       scf.forall (%{{.*}}) in (4)
// CHECK:         linalg.copy
// CHECK:         scf.forall.in_parallel
// CHECK-NOT:   scf.forall
// CHECK:       return
#rows = affine_map<(d0, d1) -> (d0, d1)>
func.func @not_tiled(%x: tensor<1x7168xf32>, %k: tensor<4x8xf32>) -> (tensor<1x7168xf32>, tensor<16x8xbf16>, tensor<4x8xbf16>) {
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<1x7168xf32>
  %y = linalg.generic {indexing_maps = [#rows, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<1x7168xf32>) outs(%e : tensor<1x7168xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.addf %a, %one : f32
    linalg.yield %m : f32
  } -> tensor<1x7168xf32>
  %ef = tensor.empty() : tensor<16x8xbf16>
  %oneb = arith.constant 1.0 : bf16
  %f = linalg.fill ins(%oneb : bf16) outs(%ef : tensor<16x8xbf16>) -> tensor<16x8xbf16>
  %ek = tensor.empty() : tensor<4x8xbf16>
  %kb = scf.forall (%i) in (4) shared_outs(%o = %ek) -> (tensor<4x8xbf16>) {
    %s = tensor.extract_slice %k[%i, 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<1x8xf32>
    %d = tensor.extract_slice %o[%i, 0] [1, 8] [1, 1] : tensor<4x8xbf16> to tensor<1x8xbf16>
    %c = linalg.copy ins(%s : tensor<1x8xf32>) outs(%d : tensor<1x8xbf16>) -> tensor<1x8xbf16>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %c into %o[%i, 0] [1, 8] [1, 1] : tensor<1x8xbf16> into tensor<4x8xbf16>
    }
  }
  return %y, %f, %kb : tensor<1x7168xf32>, tensor<16x8xbf16>, tensor<4x8xbf16>
}

// -----

// A loop of zero iterations (a prompt of no tokens, an expert with no rows)
// computes nothing: the op is left as it is, and so is a producer.
// CHECK-LABEL: func.func @empty_loop
// CHECK-NOT:   scf.forall
// CHECK:       linalg.generic {{.*}} ins(%{{.*}} : tensor<0xi64>) outs(%{{.*}} : tensor<12xi64>)
// CHECK-NOT:   scf.forall
#red = affine_map<(d0, d1) -> (d1)>
#out = affine_map<(d0, d1) -> (d0)>
func.func @empty_loop(%x: tensor<0xi64>) -> tensor<12xi64> {
  %zero = arith.constant 0 : i64
  %e = tensor.empty() : tensor<12xi64>
  %z = linalg.fill ins(%zero : i64) outs(%e : tensor<12xi64>) -> tensor<12xi64>
  %r = linalg.generic {indexing_maps = [#red, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<0xi64>) outs(%z : tensor<12xi64>) {
  ^bb0(%a: i64, %acc: i64):
    %s = arith.addi %a, %acc : i64
    linalg.yield %s : i64
  } -> tensor<12xi64>
  return %r : tensor<12xi64>
}

// -----

// An operand read at a constant offset (RoPE's pairs) is still a slice of a
// row: tiled. One read at a sum of loops (a window) is not a definition's
// op: left as it is.
// CHECK-LABEL: func.func @indexing
// CHECK:       scf.forall (%[[I:.*]]) in (%{{.*}})
// CHECK:         tensor.extract_slice %{{.*}}[%[[I]], 0, 0] [1, 64, 2]
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<1x64xf32>)
// CHECK:       linalg.generic {{.*}} ins(%{{.*}} : tensor<8xf32>) outs(%{{.*}} : tensor<4x5xf32>)
// CHECK-NOT:   scf.forall
#first = affine_map<(d0, d1) -> (d0, d1, 0)>
#rows = affine_map<(d0, d1) -> (d0, d1)>
#window = affine_map<(d0, d1) -> (d0 + d1)>
func.func @indexing(%x: tensor<?x64x2xf32>, %s: tensor<8xf32>) -> (tensor<?x64xf32>, tensor<4x5xf32>) {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x64x2xf32>
  %e = tensor.empty(%n) : tensor<?x64xf32>
  %y = linalg.generic {indexing_maps = [#first, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x64x2xf32>) outs(%e : tensor<?x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<?x64xf32>
  %e2 = tensor.empty() : tensor<4x5xf32>
  %w = linalg.generic {indexing_maps = [#window, #rows], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<8xf32>) outs(%e2 : tensor<4x5xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<4x5xf32>
  return %y, %w : tensor<?x64xf32>, tensor<4x5xf32>
}
