//===- HostPipeline.cpp - graph to LLVM dialect for the host --------------===//
//
// Host strategy: the FP8 linears get vector loops, linalg lowers to
// parallel loops run by an OpenMP team per op, clang -O3 vectorizes the
// rest. Every stage boundary is a place dsv3-compile --emit can stop.
//
//===----------------------------------------------------------------------===//

#include "Common.h"
#include "dsv3/Passes.h"
#include "dsv3/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::dsv3;

std::optional<Stage> mlir::dsv3::parseStage(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Stage>>(name)
      .Case("linalg", Stage::Linalg)
      .Case("bufferized", Stage::Bufferized)
      .Case("gpu", Stage::GPU)
      .Case("llvm", Stage::LLVM)
      .Default(std::nullopt);
}

void mlir::dsv3::buildGraphToLinalgPipeline(
    OpPassManager &pm, llvm::StringRef target,
    llvm::function_ref<void(OpPassManager &)> strategy, bool boundByKvLen,
    llvm::StringRef x86Level) {
  // Index inputs are checked by the runtime; record their ranges while the
  // ops that give them meaning (dsv3.mla, the cache update) are still whole.
  pm.addNestedPass<func::FuncOp>(createDsv3AnnotateInputBounds());
  // Whole attention blocks first: they expand into parameters and dsv3 ops
  // that the passes below handle (form=auto: absorbed for S <= 16).
  Dsv3DecomposeMLAOptions mla;
  mla.boundByKvLen = boundByKvLen;
  pm.addNestedPass<func::FuncOp>(createDsv3DecomposeMLA(mla));
  // dsv3.moe reads its weights by name, so it must become dsv3.parameter ops
  // before those are outlined into entry arguments.
  pm.addNestedPass<func::FuncOp>(createDsv3DecomposeMoE());
  pm.addNestedPass<func::FuncOp>(createDsv3DecomposeMLP());
  if (strategy)
    strategy(pm);
  // Layer functions of an imported model get their weights from each call;
  // then every read is in an entry and becomes an entry argument.
  pm.addPass(createDsv3OutlineLayerParameters());
  pm.addPass(createDsv3OutlineParameters());
  Dsv3AnnotateABIOptions abi;
  abi.target = target.str();
  abi.x86Level = x86Level.str();
  pm.addPass(createDsv3AnnotateABI(abi));
  Dsv3LowerToLinalgOptions lower;
  lower.boundByKvLen = boundByKvLen;
  pm.addNestedPass<func::FuncOp>(createDsv3LowerToLinalg(lower));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::dsv3::buildHostPipeline(OpPassManager &pm, Stage stop,
                                   const HostOptions &options) {
  // Host strategy for the bandwidth-bound FP8 linears (including those that
  // dsv3.mla and dsv3.moe decompose into), before the generic linalg
  // lowering takes the rest.
  buildGraphToLinalgPipeline(
      pm, "host",
      [&](OpPassManager &pm) {
        if (options.cudaStrategy) {
          addCudaStrategy(pm, /*sharedMemory=*/false, options.kvSplitSize);
          return;
        }
        // Split-KV first (off by default: host decode has enough rows for
        // its cores): its tiles are ops the table then sees.
        if (options.kvSplitSize > 0)
          pm.addNestedPass<func::FuncOp>(createDsv3SplitKVAttention(
              Dsv3SplitKVAttentionOptions{options.kvSplitSize}));
        // One table picks each op's kernel and tile sizes (unbounded key
        // loops are the attention definition's form); each kernel pass
        // takes the ops that name it.
        Dsv3HostSelectStrategyOptions select;
        select.boundByKvLen = options.boundByKvLen;
        pm.addNestedPass<func::FuncOp>(createDsv3HostSelectStrategy(select));
        Dsv3HostVectorizeFP8LinearOptions linear;
        linear.vectorWidth = options.vectorWidth;
        pm.addNestedPass<func::FuncOp>(
            createDsv3HostVectorizeFP8Linear(linear));
        pm.addNestedPass<func::FuncOp>(createDsv3HostVectorizeAbsorbedHeads());
        pm.addNestedPass<func::FuncOp>(
            createDsv3HostVectorizeLatentAttention());
      },
      options.boundByKvLen, options.x86Level);
  // What the kernels did not take keeps its definition: its linalg chains
  // run as one team per chain, tiled by rows with the producers fused.
  if (!options.cudaStrategy)
    pm.addNestedPass<func::FuncOp>(createDsv3HostTileAndFuseRows());
  if (stop == Stage::Linalg)
    return;
  addBufferization(pm, /*loopScratchOnStack=*/!options.cudaStrategy);
  // Stacked expert weights are read where the checkpoint mapped them.
  pm.addPass(createDsv3HostExpertPointerTables());
  // cuda-sim: a kernel's thread phases one after the other in each block.
  // Its warps' collective 2-D tiles (tensor-core products on cuda) become
  // rows of 1-D transfers here.
  if (options.cudaStrategy) {
    pm.addNestedPass<func::FuncOp>(createDsv3GPUSerializeThreads());
    VectorTransferToSCFOptions rows;
    rows.enableFullUnroll();
    pm.addNestedPass<func::FuncOp>(createConvertVectorToSCFPass(rows));
  }
  if (stop == Stage::Bufferized || stop == Stage::GPU)
    return;
  Dsv3MemRefCopyToLinalgOptions copies;
  copies.keepContiguous = true;
  pm.addNestedPass<func::FuncOp>(createDsv3MemRefCopyToLinalg(copies));
  // Threads: the parallel dimensions of each op (linalg's parallel
  // iterators, the strategies' scf.forall) become one OpenMP team per op;
  // reductions stay inside an iteration, so results do not depend on the
  // thread count.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addNestedPass<func::FuncOp>(createForallToParallelLoopPass());
  pm.addNestedPass<func::FuncOp>(createDsv3HostDistributeParallelLoops());
  pm.addPass(createConvertSCFToOpenMPPass());
  // scf-to-openmp wraps each team's body in a memref.alloca_scope. The only
  // allocas a team's body may hold (see the pass above) are fixed-size
  // scratch buffers; they become one per thread, and the scopes fold away.
  pm.addPass(createDsv3HostHoistTeamAllocas());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createDsv3ExpandFP8Casts());
  // bf16 arithmetic (a residual add between layers) computes in f32 and
  // rounds back, and the bf16 casts become integer ops, as the spec's
  // rounding wants and without calls into a compiler runtime.
  arith::ArithEmulateUnsupportedFloatsOptions emulate;
  emulate.sourceTypeStrs = {"bf16"};
  emulate.targetTypeStr = "f32";
  pm.addPass(arith::createArithEmulateUnsupportedFloats(emulate));
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createConvertVectorToLLVMPass());
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  // Buffers come from the runtime's allocator (dsv3-emit-module-abi defines
  // the generic functions), so a failed allocation is an error of the call.
  FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
  memrefToLLVM.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  // Last: its memref patterns would allocate with plain malloc.
  pm.addPass(createConvertOpenMPToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createDsv3EmitModuleABI());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createDsv3MarkGlueFunctions());
}
