//===- NameOpLocations.cpp - say what each dsv3 op is, in its location ---===//
//
// Kernels, loops and profiles of a compiled module are easier to read when
// they say which op of the graph they come from. The lowering passes give
// every op they create the location of the dsv3 op they lower, so a name
// put into that location here (`linear_q_a_proj_fp8`) reaches the kernels
// of the cuda target, where dsv3-name-kernels reads it.
//
//===----------------------------------------------------------------------===//
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3NAMEOPLOCATIONS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The Hugging Face module a parameter belongs to, e.g. `q_a_proj` for
/// `model.layers.3.self_attn.q_a_proj.weight_scale_inv`: the last component
/// before the tensor's own name.
StringRef moduleOf(StringRef parameter) {
  StringRef owner = parameter.rsplit('.').first;
  if (owner == parameter) // no '.': the name is all there is
    return parameter;
  // `lm_head.weight`: the owner is a top-level module.
  auto [outer, last] = owner.rsplit('.');
  return last.empty() ? outer : last;
}

/// `<op>[_<module of its first parameter operand>][_fp8]`.
std::string nameOf(Operation *op) {
  std::string name = op->getName().stripDialect().str();
  for (Value operand : op->getOperands()) {
    auto param = operand.getDefiningOp<ParameterOp>();
    if (!param)
      continue;
    StringRef owner = moduleOf(param.getName());
    if (!owner.empty())
      name += "_" + owner.str();
    if (isa<Float8E4M3FNType>(getElementTypeOrSelf(param.getType())))
      name += "_fp8";
    break;
  }
  return name;
}

struct Dsv3NameOpLocationsPass
    : dsv3::impl::Dsv3NameOpLocationsBase<Dsv3NameOpLocationsPass> {
  void runOnOperation() override {
    getOperation()->walk([&](Operation *op) {
      if (!isa<Dsv3Dialect>(op->getDialect()) || isa<ParameterOp>(op))
        return;
      auto name = StringAttr::get(op->getContext(), nameOf(op));
      if (auto loc = dyn_cast<NameLoc>(op->getLoc());
          loc && loc.getName() == name)
        return;
      op->setLoc(NameLoc::get(name, op->getLoc()));
    });
  }
};

} // namespace
