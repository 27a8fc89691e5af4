//===- Common.cpp - stages shared by the host and cuda pipelines ----------===//
#include "Common.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::dsv3::addBufferization(OpPassManager &pm, bool loopScratchOnStack) {
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Before deallocations exist: an alloca needs none.
  if (loopScratchOnStack)
    pm.addNestedPass<func::FuncOp>(
        bufferization::createPromoteBuffersToStackPass([](Value alloc) {
          auto type = dyn_cast<MemRefType>(alloc.getType());
          return type && type.hasStaticShape() &&
                 type.getElementTypeBitWidth() % 8 == 0 &&
                 type.getNumElements() * (type.getElementTypeBitWidth() / 8) <=
                     kHostRowScratchBytes &&
                 alloc.getDefiningOp()->getParentOfType<scf::ForallOp>();
        }));
  // A layer function of an imported model updates its caches in place and
  // returns them; dropping those results keeps its callers from receiving a
  // fresh buffer and copying the whole cache back after every call. The
  // canonicalizer first folds an scf.if whose branches yield the same buffer
  // (the row-wise cache update) so the returned value is the argument.
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  // State results (dsv3-annotate-abi) now return their argument's buffer,
  // updated in place; they leave the signature before results become
  // out-params.
  pm.addNestedPass<func::FuncOp>(createDsv3DropStateResults());
  pm.addPass(createDsv3ResultsToOutParams());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  bufferization::BufferDeallocationPipelineOptions dealloc;
  bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addPass(createCanonicalizerPass());
}
