//===- Parameters.cpp - the weights an imported graph reads ---------------===//
//
// The checkpoint check compares names, dtypes and shapes with what the graph
// will read once compiled, so it runs the same decompositions the pipelines
// run (on a copy) and lists every dsv3.parameter, stacked ones per expert.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Import.h"

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::import;

/// The safetensors spelling of an element type ("" if it has none).
static std::string safetensorsDType(Type t) {
  if (isa<Float8E4M3FNType>(t))
    return "F8_E4M3";
  if (t.isBF16())
    return "BF16";
  if (t.isF16())
    return "F16";
  if (t.isF32())
    return "F32";
  if (t.isInteger(64))
    return "I64";
  if (t.isInteger(32))
    return "I32";
  return "";
}

llvm::Expected<std::map<std::string, CheckpointTensor>>
mlir::dsv3::import::collectParameters(ModuleOp module) {
  OwningOpRef<ModuleOp> copy = module.clone();
  PassManager pm(module.getContext());
  pm.addNestedPass<func::FuncOp>(createDsv3DecomposeMLA());
  pm.addNestedPass<func::FuncOp>(createDsv3DecomposeMoE());
  pm.addNestedPass<func::FuncOp>(createDsv3DecomposeMLP());
  pm.addPass(createDsv3OutlineLayerParameters());
  if (failed(pm.run(*copy)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "decomposing the imported graph failed");
  std::map<std::string, CheckpointTensor> params;
  copy->walk([&](ParameterOp op) {
    auto type = cast<RankedTensorType>(op.getType());
    // Block scales are computed at bind time, not read.
    if (op.getScalesOf())
      return;
    CheckpointTensor t;
    // A parameter quantized at bind time is read as the type it is stored in.
    t.dtype = safetensorsDType(op.getQuantizedFrom() ? *op.getQuantizedFrom()
                                                     : type.getElementType());
    t.shape.assign(type.getShape().begin(), type.getShape().end());
    std::string name = op.getName().str();
    if (!op.getStacked()) {
      params[name] = t;
      return;
    }
    size_t at = name.find("{e}");
    int64_t experts = t.shape.front();
    t.shape.erase(t.shape.begin());
    for (int64_t e = 0; e < experts; ++e) {
      std::string n = name;
      n.replace(at, 3, std::to_string(e));
      params[n] = t;
    }
  });
  return params;
}
