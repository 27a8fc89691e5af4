//===- OutlineLayerParameters.cpp - layer weights as call operands --------===//
//
// An imported model has one private function per kind of decoder layer
// (dense, MoE), called once per layer, so compile time and module size do
// not grow with depth. Inside such a function the weights are dsv3.parameter
// ops whose names hold the placeholder `{layer}`; each call names its layer
// with `{dsv3.layer = N}`. This pass makes every parameter of a private
// function a function argument and, at each call, reads the parameter of
// that layer (`{layer}` replaced by N) in the caller and passes it, so that
// dsv3-outline-parameters then turns them into entry arguments.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3OUTLINELAYERPARAMETERS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

static constexpr StringLiteral kLayerPlaceholder = "{layer}";

namespace {

struct Read {
  Type type;
  bool stacked;
  StringAttr sameAs; // may be a copy of that parameter (null: no)
  TypeAttr quantizedFrom;
  StringAttr scalesOf; // may hold {layer}, like the name
};

struct Dsv3OutlineLayerParametersPass
    : dsv3::impl::Dsv3OutlineLayerParametersBase<
          Dsv3OutlineLayerParametersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Outlining a callee adds parameter ops to its callers; a private caller
    // is then outlined in turn. Each round empties at least one function, so
    // more rounds than functions means a cycle of calls.
    size_t funcs = llvm::range_size(module.getOps<func::FuncOp>());
    for (size_t round = 0;; ++round) {
      func::FuncOp next;
      for (auto f : module.getOps<func::FuncOp>())
        if (f.isPrivate() && !f.isExternal() &&
            !f.getBody().getOps<ParameterOp>().empty())
          next = f;
      if (!next) {
        // Parameters nested in regions of a private function.
        for (auto f : module.getOps<func::FuncOp>())
          if (f.isPrivate() && !f.isExternal() &&
              f.walk([](ParameterOp) {
                 return WalkResult::interrupt();
               }).wasInterrupted())
            next = f;
      }
      if (!next)
        return;
      if (round > funcs) {
        next.emitOpError("reads parameters through a cycle of calls");
        return signalPassFailure();
      }
      if (failed(outline(module, next)))
        return signalPassFailure();
    }
  }

  LogicalResult outline(ModuleOp module, func::FuncOp func) {
    llvm::MapVector<StringRef, Read> reads;
    SmallVector<ParameterOp> ops;
    WalkResult walk = func.walk([&](ParameterOp op) {
      auto [it, inserted] = reads.try_emplace(
          op.getName(), Read{op.getType(), op.getStacked(), op.getSameAsAttr(),
                             op.getQuantizedFromAttr(), op.getScalesOfAttr()});
      if (!inserted && (it->second.quantizedFrom != op.getQuantizedFromAttr() ||
                        it->second.scalesOf != op.getScalesOfAttr())) {
        op.emitOpError("parameter '")
            << op.getName()
            << "' is read with different quantized_from or scales_of here "
               "and elsewhere";
        return WalkResult::interrupt();
      }
      if (!inserted && it->second.type != op.getType()) {
        op.emitOpError("parameter '")
            << op.getName() << "' is read with type " << op.getType()
            << " here but " << it->second.type << " elsewhere";
        return WalkResult::interrupt();
      }
      ops.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();

    // Calls first, so that nothing changes when one of them is malformed.
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(func, module);
    if (!uses)
      return func.emitOpError("has a use that is not a call");
    SmallVector<func::CallOp> calls;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call)
        return use.getUser()->emitOpError("uses layer function @")
               << func.getSymName()
               << ", which reads parameters, other than by func.call";
      calls.push_back(call);
    }
    bool templated = llvm::any_of(
        reads, [](auto &r) { return r.first.contains(kLayerPlaceholder); });
    for (func::CallOp call : calls) {
      auto layer = call->getAttrOfType<IntegerAttr>("dsv3.layer");
      if (templated && (!layer || layer.getInt() < 0))
        return call.emitOpError("calls @")
               << func.getSymName() << ", whose parameter names hold '"
               << kLayerPlaceholder
               << "', without a non-negative integer dsv3.layer attribute";
    }

    // The callee: one trailing argument per distinct name.
    unsigned first = func.getNumArguments();
    SmallVector<Type> types;
    SmallVector<DictionaryAttr> attrs;
    SmallVector<Location> locs;
    for (auto &[name, read] : reads) {
      types.push_back(read.type);
      attrs.push_back(DictionaryAttr::get(&getContext()));
      locs.push_back(func.getLoc());
    }
    SmallVector<unsigned> indices(reads.size(), first);
    if (failed(func.insertArguments(indices, types, attrs, locs)))
      return failure();
    for (ParameterOp op : ops) {
      unsigned i = first + reads.find(op.getName()) - reads.begin();
      op.getResult().replaceAllUsesWith(func.getArgument(i));
      op.erase();
    }

    // Each call: read this layer's parameters where the call is.
    for (func::CallOp call : calls) {
      OpBuilder b(call);
      SmallVector<Value> operands(call.getOperands());
      std::string index;
      if (auto layer = call->getAttrOfType<IntegerAttr>("dsv3.layer"))
        index = std::to_string(layer.getInt());
      auto substitute = [&](StringRef templated) {
        std::string concrete = templated.str();
        for (size_t at; (at = concrete.find(kLayerPlaceholder.str())) !=
                        std::string::npos;)
          concrete.replace(at, kLayerPlaceholder.size(), index);
        return concrete;
      };
      for (auto &[name, read] : reads) {
        operands.push_back(ParameterOp::create(
            b, call.getLoc(), read.type, b.getStringAttr(substitute(name)),
            read.stacked ? b.getUnitAttr() : UnitAttr(), read.sameAs,
            read.quantizedFrom,
            read.scalesOf ? b.getStringAttr(substitute(read.scalesOf))
                          : StringAttr()));
      }
      auto replacement = func::CallOp::create(b, call.getLoc(), func, operands);
      replacement->setDiscardableAttrs(call->getDiscardableAttrDictionary());
      call.replaceAllUsesWith(replacement.getResults());
      call.erase();
    }
    return success();
  }
};

} // namespace
