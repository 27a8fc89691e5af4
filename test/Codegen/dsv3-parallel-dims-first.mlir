// RUN: dsv3-opt %s --dsv3-parallel-dims-first | FileCheck %s

// The block amax of a [1, 128] quantization: [parallel, reduction, parallel,
// reduction] becomes [parallel, parallel, reduction, reduction], parallel
// dims in their original order.
// CHECK-DAG: #[[IN:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-DAG: #[[T:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func @amax
// CHECK: linalg.generic {indexing_maps = [#[[IN]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
func.func @amax(%x: memref<4x1x2x128xf32>, %out: memref<4x2xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>,
                                   affine_map<(d0, d1, d2, d3) -> (d0, d2)>],
                  iterator_types = ["parallel", "reduction", "parallel", "reduction"]}
      ins(%x : memref<4x1x2x128xf32>) outs(%out : memref<4x2xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %a = math.absf %in : f32
    %m = arith.maxnumf %acc, %a : f32
    linalg.yield %m : f32
  }
  return
}

// linalg.index follows its dimension.
// CHECK-LABEL: func.func @index
// CHECK: indexing_maps = [#[[T]], #{{.*}}], iterator_types = ["parallel", "reduction"]
// CHECK: %[[OLD1:.*]] = linalg.index 0 : index
// CHECK: %[[OLD0:.*]] = linalg.index 1 : index
// CHECK: %[[I:.*]] = affine.apply #{{.*}}(%[[OLD1]], %[[OLD0]])
// CHECK: arith.addi %{{.*}}, %[[I]] : index
func.func @index(%x: memref<8x4xindex>, %out: memref<4xindex>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d1)>],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<8x4xindex>) outs(%out : memref<4xindex>) {
  ^bb0(%in: index, %acc: index):
    %i = linalg.index 1 : index
    %s = arith.addi %acc, %i : index
    linalg.yield %s : index
  }
  return
}

// Already in order: untouched.
// CHECK-LABEL: func.func @ordered
// CHECK: indexing_maps = [#{{.*}}, #{{.*}}], iterator_types = ["parallel", "reduction"]
func.func @ordered(%x: memref<4x8xf32>, %out: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                                   affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x8xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  return
}
