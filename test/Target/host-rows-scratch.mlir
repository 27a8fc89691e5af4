// The host pipeline runs RMSNorm's definition as one loop over rows
// (dsv3-host-tile-and-fuse-rows): the row's sum of squares lives in a
// scratch buffer that promote-buffers-to-stack makes an alloca, so the loop
// has no heap allocation, stays an OpenMP team, and the alloca becomes one
// buffer per thread at the start of the team.
// RUN: dsv3-compile %s --target=host --emit=bufferized -o - | FileCheck %s --check-prefix=BUF
// RUN: dsv3-compile %s --target=host --emit=llvm -o - | FileCheck %s --check-prefix=LLVM

// BUF-LABEL: func.func @norm
// BUF:       scf.forall (%[[I:.*]]) in (%{{.*}})
// BUF-NOT:     memref.alloc(
// BUF:         %[[SUM:.*]] = memref.alloca() {{.*}} : memref<1xf32>
// BUF:         linalg.fill {{.*}} outs(%[[SUM]] : memref<1xf32>)
// BUF:         linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} outs(%[[SUM]] : memref<1xf32>)
// BUF:         linalg.generic {{.*}} ins(%{{.*}}, %[[SUM]], %{{.*}} : {{.*}}, memref<1xf32>, memref<1536xbf16>)
// BUF:       }
// BUF-NOT:   scf.forall

// LLVM-LABEL: llvm.func hidden @norm(
// LLVM:       omp.parallel {
// LLVM-NEXT:    llvm.alloca %{{.*}} x f32
// LLVM-NEXT:    omp.wsloop
// LLVM-NOT:   omp.parallel
func.func @norm(%x: tensor<?x1536xbf16> {dsv3.dynamic_dims = [{dim = 0 : i64, max = 64 : i64, min = 1 : i64, symbol = "tokens"}]}, %w: tensor<1536xbf16>) -> (tensor<?x1536xbf16> {dsv3.dynamic_dims = [{dim = 0 : i64, symbol = "tokens"}]}) {
  %y = dsv3.rms_norm %x, %w : (tensor<?x1536xbf16>, tensor<1536xbf16>) -> tensor<?x1536xbf16>
  return %y : tensor<?x1536xbf16>
}
