//===- OutlineParameters.cpp - dsv3.parameter -> entry arguments ----------===//
//
// Weights are bound at run time by name, never baked into a module, so every
// dsv3.parameter becomes an argument of the entry that reads it.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3OUTLINEPARAMETERS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {
struct Dsv3OutlineParametersPass
    : dsv3::impl::Dsv3OutlineParametersBase<Dsv3OutlineParametersPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      // Group by name, in order of first appearance, so the argument order is
      // deterministic and readable.
      llvm::MapVector<StringRef, SmallVector<ParameterOp>> byName;
      func.walk([&](ParameterOp op) { byName[op.getName()].push_back(op); });
      if (byName.empty())
        continue;
      if (func.isPrivate()) {
        byName.front().second.front().emitOpError(
            "reads a parameter inside private function '")
            << func.getSymName() << "'; only entry functions may";
        return signalPassFailure();
      }
      for (auto &[name, ops] : byName) {
        Type type = ops.front().getType();
        // The verifier ties `stacked` to the {e} in the name, so ops of one
        // name agree on it.
        bool stacked = ops.front().getStacked();
        StringAttr sameAs = ops.front().getSameAsAttr();
        TypeAttr quantizedFrom = ops.front().getQuantizedFromAttr();
        StringAttr scalesOf = ops.front().getScalesOfAttr();
        for (ParameterOp op : ops) {
          if (op.getSameAsAttr() != sameAs ||
              op.getQuantizedFromAttr() != quantizedFrom ||
              op.getScalesOfAttr() != scalesOf) {
            op.emitOpError("parameter '")
                << name << "' is read with different same_as, quantized_from "
                << "or scales_of here and elsewhere";
            return signalPassFailure();
          }
          if (op.getType() != type) {
            op.emitOpError("parameter '")
                << name << "' is read with type " << op.getType()
                << " here but " << type << " elsewhere";
            return signalPassFailure();
          }
        }
        unsigned idx = func.getNumArguments();
        MLIRContext *ctx = &getContext();
        SmallVector<NamedAttribute> argAttrs = {
            NamedAttribute(StringAttr::get(ctx, "dsv3.parameter"),
                           StringAttr::get(ctx, name))};
        // The runtime assembles a stacked parameter from per-expert tensors.
        if (stacked)
          argAttrs.push_back(NamedAttribute(
              StringAttr::get(ctx, "dsv3.stacked"), UnitAttr::get(ctx)));
        // The runtime binds it to that parameter's memory when the bytes
        // are identical.
        if (sameAs)
          argAttrs.push_back(
              NamedAttribute(StringAttr::get(ctx, "dsv3.same_as"), sameAs));
        // The runtime derives these at bind time (FP8 codes and their block
        // scales) instead of reading them from the checkpoint.
        if (quantizedFrom)
          argAttrs.push_back(NamedAttribute(
              StringAttr::get(ctx, "dsv3.quantized_from"), quantizedFrom));
        if (scalesOf)
          argAttrs.push_back(
              NamedAttribute(StringAttr::get(ctx, "dsv3.scales_of"), scalesOf));
        auto attrs = DictionaryAttr::get(ctx, argAttrs);
        if (failed(func.insertArgument(idx, type, attrs, ops.front().getLoc())))
          return signalPassFailure();
        Value arg = func.getArgument(idx);
        for (ParameterOp op : ops) {
          op.getResult().replaceAllUsesWith(arg);
          op.erase();
        }
      }
    }
  }
};
} // namespace
