//===- CudaPipeline.cpp - graph to LLVM dialect + CUDA kernels ------------===//
//
// The cuda strategy's kernel passes (addCudaStrategy: mapped forall nests
// for decode linears, prompt linears, norms, the router, expert dispatch and
// combine, cache updates, the absorbed-head products and split-KV attention)
// take the ops they handle; every other linalg op gets the correct-first
// mapping, one kernel with one thread per element of its parallel iteration
// space and its reductions as serial loops inside each thread. Kernels go
// through NVVM, LLVM's NVPTX backend and ptxas into a fatbin embedded in the
// host code, which only allocates temporaries, launches kernels and
// synchronizes, through the mgpu* functions of libdsv3rt (docs/runtime-abi.md).
// Each stage boundary is a place dsv3-compile --emit can stop.
// docs/cuda-target.md explains the choices.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "dsv3/Passes.h"
#include "dsv3/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::dsv3;

void mlir::dsv3::addCudaStrategy(OpPassManager &pm, bool sharedMemory,
                                 int64_t kvSplitSize) {
  // First: the router's logits become a dsv3.linear for the GEMV below.
  Dsv3GPUMoEGateOptions gate;
  gate.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPUMoEGate(gate));
  Dsv3GPUDecodeLinearOptions decode;
  decode.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPUDecodeLinear(decode));
  // The linears the GEMV leaves (prompts): shared-memory tiles.
  Dsv3GPUTiledGemmOptions gemm;
  gemm.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPUTiledGemm(gemm));
  Dsv3GPURMSNormOptions norm;
  norm.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPURMSNorm(norm));
  pm.addNestedPass<func::FuncOp>(createDsv3GPUKVCacheUpdate());
  Dsv3GPUExpertDispatchOptions dispatch;
  dispatch.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPUExpertDispatch(dispatch));
  Dsv3GPUExpertCombineOptions combine;
  combine.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPUExpertCombine(combine));
  Dsv3GPUAbsorbedHeadsOptions heads;
  heads.sharedMemory = sharedMemory;
  pm.addNestedPass<func::FuncOp>(createDsv3GPUAbsorbedHeads(heads));
  // Split-KV is the kernel's own tiling (a block per key tile), so
  // --kv-split-size sets its tile instead of running
  // dsv3-split-kv-attention, whose forall over tiles would be a host loop.
  Dsv3GPULatentAttentionOptions attention;
  attention.sharedMemory = sharedMemory;
  if (kvSplitSize > 0)
    attention.keysPerBlock = kvSplitSize;
  pm.addNestedPass<func::FuncOp>(createDsv3GPULatentAttention(attention));
}

/// Threads per block for the linearized elementwise iteration space.
static constexpr int64_t kThreadsPerBlock = 256;

/// Bufferized host functions -> gpu.launch per linalg op -> outlined kernels
/// in a gpu.module, host side in async form.
static void addKernelMapping(OpPassManager &pm) {
  // The deallocation pipeline leaves bufferization.dealloc-free code, but
  // clones and the like must be memref ops before they can be retargeted.
  pm.addPass(createConvertBufferizationToMemRefPass());
  // The strategies' kernels (block/thread foralls) first, their warps'
  // tensor-core tiles distributed over lanes; the definitions of everything
  // else get the one-thread-per-output mapping below.
  pm.addNestedPass<func::FuncOp>(createDsv3GPUWarpMma());
  pm.addNestedPass<func::FuncOp>(createDsv3GPUMapForalls());
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createDsv3MemRefCopyToLinalg());
  fn.addPass(createDsv3ParallelDimsFirst());
  fn.addPass(createConvertLinalgToParallelLoopsPass());
  // Folds unit loops (e.g. the block dim of a [1, 128] quantization) so the
  // collapsed loops have no useless dimensions.
  fn.addPass(createCanonicalizerPass());
  // ... which also folds the unit loop around a single-row reduction; put
  // such serial loops back into a (one-thread) kernel. Over the whole
  // module: the host-only buffers of the deallocation pipeline's alias check
  // cross function boundaries.
  pm.addPass(createDsv3SerialLoopsToKernels());
  OpPassManager &kernels = pm.nest<func::FuncOp>();
  kernels.addPass(createDsv3CollapseParallelLoops());
  // Guards instead of min() bounds: the block size stays a constant.
  kernels.addPass(createParallelLoopTilingPass({kThreadsPerBlock},
                                               /*noMinMaxBounds=*/true));
  kernels.addPass(createGpuMapParallelLoopsPass());
  kernels.addPass(createConvertParallelLoopToGpuPass());
  // Over the whole module: the host-only buffers of the deallocation
  // bookkeeping cross function boundaries.
  pm.addPass(createDsv3HostAllocsToGPU());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  // Constant tables (the rope's frequencies) go with the kernels that read
  // them: device globals, not host addresses.
  pm.addPass(createDsv3GPUSinkConstantGlobals());
  // Kernels named (and their costs keyed by those names) before outlining,
  // which takes a launch's name from its module/function attributes.
  pm.addPass(createDsv3NameKernels());
  pm.addPass(createDsv3GPUKernelCosts());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createDsv3GPUAlignWorkgroupBuffers());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  // Synchronous gpu.alloc/dealloc have no LLVM lowering; the async form runs
  // everything on one stream and waits for it before the entry returns.
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
}

/// Upstream's gpu-lower-to-nvvm-pipeline spelled out (docs/cuda-target.md,
/// "Pipeline": it does not forward gpu-module-to-binary's toolkit option),
/// with the FP8 casts lowered first, while kernels are still arith.
static void addNVVMLowering(OpPassManager &pm, const CudaOptions &options) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createDsv3LowerFP8CastsToNVVM());
  // E8M0 casts (and any vector E4M3 cast) as integer arithmetic, which
  // NVVM lowers like any other code.
  kernels.addPass(createDsv3ExpandFP8Casts());

  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertNVVMToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createArithToLLVMConversionPass());
  ConvertIndexToLLVMPassOptions index;
  index.indexBitwidth = 64;
  pm.addPass(createConvertIndexToLLVMPass(index));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  OpPassManager &nvvm = pm.nest<gpu::GPUModuleOp>();
  ConvertGpuOpsToNVVMOpsOptions toNVVM;
  toNVVM.indexBitwidth = 64;
  nvvm.addPass(createConvertGpuOpsToNVVMOps(toNVVM));
  nvvm.addPass(createCanonicalizerPass());
  nvvm.addPass(createCSEPass());
  nvvm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createGpuToLLVMConversionPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  binary.toolkitPath = options.toolkit;
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::dsv3::buildCudaPipeline(OpPassManager &pm,
                                   const CudaOptions &options, Stage stop) {
  // Kernels are named after the graph ops they run (dsv3-name-kernels):
  // whole blocks (dsv3.mla, dsv3.moe) name what they decompose into, and the
  // dsv3 ops they decompose into name themselves.
  pm.addNestedPass<func::FuncOp>(createDsv3NameOpLocations());
  buildGraphToLinalgPipeline(
      pm, "cuda",
      [&](OpPassManager &pm) {
        pm.addNestedPass<func::FuncOp>(createDsv3NameOpLocations());
        addCudaStrategy(pm, /*sharedMemory=*/true, options.kvSplitSize);
      },
      /*boundByKvLen=*/false, options.x86Level);
  if (stop == Stage::Linalg)
    return;
  addBufferization(pm);
  if (stop == Stage::Bufferized)
    return;
  addKernelMapping(pm);
  if (stop == Stage::GPU)
    return;
  addNVVMLowering(pm, options);
  pm.addPass(createDsv3EmitModuleABI());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createDsv3MarkGlueFunctions());
}
