//===- Registration.cpp - pipelines for dsv3-opt --------------------------===//
#include "dsv3/Pipelines.h"

#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::dsv3;

namespace {
struct CudaPipelineOptions : PassPipelineOptions<CudaPipelineOptions> {
  Option<std::string> chip{*this, "chip", llvm::cl::init("sm_90a")};
  Option<std::string> features{*this, "features", llvm::cl::init("+ptx80")};
  Option<std::string> toolkit{*this, "toolkit", llvm::cl::init("")};
  Option<std::string> format{*this, "format", llvm::cl::init("fatbin")};
};
} // namespace

void mlir::dsv3::registerDsv3Pipelines() {
  PassPipelineRegistration<>("dsv3-host-pipeline",
                             "dsv3 graph to LLVM dialect for the host",
                             [](OpPassManager &pm) { buildHostPipeline(pm); });
  PassPipelineRegistration<>(
      "dsv3-cuda-sim-pipeline",
      "dsv3 graph to LLVM dialect for the host, running the cuda strategy's "
      "kernels with their threads serialized",
      [](OpPassManager &pm) {
        HostOptions opts;
        opts.cudaStrategy = true;
        buildHostPipeline(pm, Stage::LLVM, opts);
      });
  PassPipelineRegistration<CudaPipelineOptions>(
      "dsv3-cuda-pipeline",
      "dsv3 graph to LLVM dialect with embedded CUDA kernels",
      [](OpPassManager &pm, const CudaPipelineOptions &o) {
        CudaOptions opts;
        opts.chip = o.chip;
        opts.features = o.features;
        opts.toolkit = o.toolkit;
        opts.format = o.format;
        buildCudaPipeline(pm, opts);
      });
}
