//===- CudaPipeline.cpp - graph to LLVM dialect + CUDA kernels ------------===//
#include "dsv3/Pipelines.h"

using namespace mlir;
using namespace mlir::dsv3;

void mlir::dsv3::buildCudaPipeline(OpPassManager &pm,
                                   const CudaOptions &options, Stage stop) {
  // Placeholder until the CUDA pipeline lands; see lib/Pipelines/README.
  buildGraphToLinalgPipeline(pm, "cuda");
  (void)options;
  (void)stop;
}
