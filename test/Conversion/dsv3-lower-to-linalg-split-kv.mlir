// RUN: dsv3-opt %s --dsv3-lower-to-linalg=kv-split-size=256 --split-input-file | FileCheck %s
// RUN: dsv3-opt %s --dsv3-lower-to-linalg --split-input-file | FileCheck %s --check-prefix=OFF

// Decode over a 4096-row cache: 16 splits of 256 keys. Scores are [B, S, H,
// N, Lc] with key n·256 + tc read through the cache map; one online pass gives
// each split's (max, sum); partial outputs [B, S, H, N, C]; then the
// log-sum-exp merge over n.
// CHECK-DAG:   #[[CACHE:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3 * 256 + d4, d5)>
// CHECK-DAG:   #[[CACHEV:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d3 * 256 + d5, d4)>
// CHECK-LABEL: func.func @decode
// CHECK:       linalg.generic {indexing_maps = [#{{.*}}, #[[CACHE]], #{{.*}}], {{.*}} ins(%arg0, %arg2 : {{.*}}) outs(%{{.*}} : tensor<1x1x128x16x256xf32>)
// CHECK:       linalg.generic {indexing_maps = [#{{.*}}, #[[CACHE]], #{{.*}}], {{.*}} ins(%arg1, %arg3 : {{.*}}) outs(%{{.*}} : tensor<1x1x128x16x256xf32>)
// CHECK:       %[[ST:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<1x1x128x16x256xf32>) outs(%{{.*}}, %{{.*}} : tensor<1x1x128x16xf32>, tensor<1x1x128x16xf32>)
// CHECK:         arith.maximumf
// CHECK:         math.exp
// CHECK:         math.exp
// CHECK:         linalg.yield
// CHECK:       linalg.generic {indexing_maps = [#{{.*}}, #[[CACHEV]], #{{.*}}], {{.*}} outs(%{{.*}} : tensor<1x1x128x16x512xf32>)
// CHECK:       math.log
// CHECK:       linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x128xf32>)
// CHECK:         arith.maximumf
// CHECK:       linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x128x512xf32>)
// CHECK:         arith.divf
// CHECK:       arith.truncf {{.*}} : f32 to bf16
// OFF-LABEL:   func.func @decode
// OFF-NOT:     tensor<1x1x128x16x256xf32>
// OFF:         tensor<1x1x128x4096xf32>
func.func @decode(%q: tensor<1x1x128x512xbf16>, %qp: tensor<1x1x128x64xbf16>, %c: tensor<1x4096x512xbf16>, %k: tensor<1x4096x64xbf16>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x128x512xbf16> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.1352338)
      : tensor<1x1x128x512xbf16>, tensor<1x1x128x64xbf16>, tensor<1x4096x512xbf16>, tensor<1x4096x64xbf16>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x128x512xbf16>
  return %o : tensor<1x1x128x512xbf16>
}

// -----

// Not split: prefill (S > 16), and a cache too short for two splits of 256.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT:   x256xf32>
// CHECK:       tensor<1x32x4x4096xf32>
// CHECK-LABEL: func.func @short
// CHECK:       tensor<1x1x4x300xf32>
func.func @prefill(%q: tensor<1x32x4x16xf32>, %qp: tensor<1x32x4x8xf32>, %c: tensor<1x4096x16xf32>, %k: tensor<1x4096x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x32x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x32x4x16xf32>, tensor<1x32x4x8xf32>, tensor<1x4096x16xf32>, tensor<1x4096x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x32x4x16xf32>
  return %o : tensor<1x32x4x16xf32>
}
func.func @short(%q: tensor<1x1x4x16xf32>, %qp: tensor<1x1x4x8xf32>, %c: tensor<1x300x16xf32>, %k: tensor<1x300x8xf32>, %s: tensor<1xi64>, %l: tensor<1xi64>) -> tensor<1x1x4x16xf32> {
  %o = dsv3.latent_attention %q, %qp, %c, %k, %s, %l scale(0.25)
      : tensor<1x1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x300x16xf32>, tensor<1x300x8xf32>, tensor<1xi64>, tensor<1xi64> -> tensor<1x1x4x16xf32>
  return %o : tensor<1x1x4x16xf32>
}
