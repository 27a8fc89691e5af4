//===- AnnotateABI.cpp - record each entry's ABI as module metadata -------===//
//
// The runtime validates inputs and binds parameters from the metadata JSON
// this pass builds (docs/runtime-abi.md). It runs while the signature is still
// in tensors, where names, roles and shapes are plain to see; the string
// travels on the module until dsv3-emit-module-abi writes it into the binary.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "dsv3/Runtime/abi.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/JSON.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3ANNOTATEABI
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

/// The ABI's dtype name of an element type, or "" if the ABI has none.
static StringRef abiDType(Type t) {
  if (t.isF32())
    return "f32";
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (isa<Float8E4M3FNType>(t))
    return "f8e4m3fn";
  if (isa<Float8E8M0FNUType>(t))
    return "f8e8m0fnu";
  if (t.isInteger(1))
    return "i1";
  if (t.isInteger(8))
    return "i8";
  if (t.isInteger(32))
    return "i32";
  if (t.isInteger(64))
    return "i64";
  return "";
}

namespace {
struct Dsv3AnnotateABIPass
    : dsv3::impl::Dsv3AnnotateABIBase<Dsv3AnnotateABIPass> {
  using Base::Base;

  /// JSON for one argument or result; fails with a diagnostic at `loc`.
  /// (json::Value keeps StringRefs by reference, hence the .str() copies.)
  FailureOr<llvm::json::Object> describe(Location loc, Type type,
                                         StringRef name, StringRef role) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !tensor.hasStaticShape())
      return emitError(loc)
             << "entry " << role << " '" << name
             << "' must be a statically shaped tensor, got " << type;
    StringRef dtype = abiDType(tensor.getElementType());
    if (dtype.empty())
      return emitError(loc) << "entry " << role << " '" << name
                            << "' has element type " << tensor.getElementType()
                            << ", which the module ABI cannot carry";
    llvm::json::Array shape;
    for (int64_t d : tensor.getShape())
      shape.push_back(d);
    return llvm::json::Object{{"name", name.str()},
                              {"role", role.str()},
                              {"dtype", dtype.str()},
                              {"shape", std::move(shape)}};
  }

  /// Ties each result marked `{dsv3.state = "<name>"}` to the argument of
  /// the same state name: the returned value is materialized into that
  /// argument, so bufferization updates the session's buffer in place and
  /// the result becomes equivalent to the argument (dropped after
  /// bufferization, never an output). Inputs and parameters become read-only
  /// buffers; a result that is an argument itself is copied, so that no
  /// output can alias an argument. Returns the indices of the state results.
  FailureOr<llvm::SmallDenseSet<unsigned>> tieStateResults(func::FuncOp func) {
    MLIRContext *ctx = &getContext();
    llvm::StringMap<unsigned> stateArgs;
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
      auto state = func.getArgAttrOfType<StringAttr>(i, "dsv3.state");
      func.setArgAttr(i, "bufferization.writable", BoolAttr::get(ctx, !!state));
      if (state && !stateArgs.try_emplace(state.getValue(), i).second)
        return func.emitError("state '")
               << state.getValue() << "' names two arguments";
    }
    llvm::SmallDenseSet<unsigned> stateResults;
    llvm::StringSet<> tied;
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
      auto state = func.getResultAttrOfType<StringAttr>(i, "dsv3.state");
      if (!state)
        continue;
      auto it = stateArgs.find(state.getValue());
      if (it == stateArgs.end())
        return func.emitError("result ")
               << i << " updates state '" << state.getValue()
               << "' but no argument carries {dsv3.state = \""
               << state.getValue() << "\"}";
      if (!tied.insert(state.getValue()).second)
        return func.emitError("state '")
               << state.getValue() << "' is updated by two results";
      if (func.getResultTypes()[i] != func.getArgument(it->second).getType())
        return func.emitError("result ")
               << i << " updates state '" << state.getValue() << "' with type "
               << func.getResultTypes()[i] << " but the state argument is "
               << func.getArgument(it->second).getType();
      stateResults.insert(i);
    }
    func.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        unsigned i = operand.getOperandNumber();
        Value v = operand.get();
        if (stateResults.contains(i)) {
          auto name = func.getResultAttrOfType<StringAttr>(i, "dsv3.state");
          Value dest = func.getArgument(stateArgs.lookup(name.getValue()));
          if (v == dest)
            continue; // read-only use: the buffer is unchanged
          operand.set(bufferization::MaterializeInDestinationOp::create(
                          b, ret.getLoc(), v, dest)
                          .getResult());
        } else if (isa<BlockArgument>(v) &&
                   isa<RankedTensorType>(v.getType())) {
          operand.set(bufferization::AllocTensorOp::create(
              b, ret.getLoc(), cast<RankedTensorType>(v.getType()),
              ValueRange{}, /*copy=*/v));
        }
      }
    });
    return stateResults;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (target != "host" && target != "cuda") {
      module.emitError("dsv3-annotate-abi: unknown target '") << target << "'";
      return signalPassFailure();
    }
    llvm::json::Array entries;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || func.isPrivate())
        continue;
      auto stateResults = tieStateResults(func);
      if (failed(stateResults))
        return signalPassFailure();
      llvm::json::Array args;
      // Inputs and states first, then parameters, then outputs: the order the
      // bufferized function has after buffer-results-to-out-params.
      for (bool params : {false, true}) {
        for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
          auto p = func.getArgAttrOfType<StringAttr>(i, "dsv3.parameter");
          if (static_cast<bool>(p) != params)
            continue;
          if (!params && i >= 1) {
            // Parameters are appended by dsv3-outline-parameters; an input
            // after one would break the calling order.
            if (func.getArgAttr(i - 1, "dsv3.parameter")) {
              func.emitError("entry inputs must precede parameters");
              return signalPassFailure();
            }
          }
          auto state = func.getArgAttrOfType<StringAttr>(i, "dsv3.state");
          std::string name = p       ? p.str()
                             : state ? state.str()
                                     : ("arg" + std::to_string(i));
          if (auto n = func.getArgAttrOfType<StringAttr>(i, "dsv3.name"))
            name = n.str();
          StringRef role = params ? "parameter" : state ? "state" : "input";
          auto d = describe(arg.getLoc(), arg.getType(), name, role);
          if (failed(d))
            return signalPassFailure();
          if (params && func.getArgAttr(i, "dsv3.stacked"))
            (*d)["stacked"] = true;
          if (auto bounds =
                  func.getArgAttrOfType<DictionaryAttr>(i, "dsv3.bounds")) {
            if (failed(describeBounds(arg.getLoc(), bounds, *d)))
              return signalPassFailure();
          }
          args.push_back(std::move(*d));
        }
      }
      for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
        if (stateResults->contains(i))
          continue; // updated in place, not an output
        std::string name = "result" + std::to_string(i);
        if (auto n = func.getResultAttrOfType<StringAttr>(i, "dsv3.name"))
          name = n.str();
        auto d = describe(func.getLoc(), type, name, "output");
        if (failed(d))
          return signalPassFailure();
        args.push_back(std::move(*d));
      }
      std::string symbol = ("dsv3_entry_" + func.getSymName()).str();
      entries.push_back(llvm::json::Object{{"name", func.getSymName().str()},
                                           {"symbol", symbol},
                                           {"args", std::move(args)}});
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(&getContext()));
    }
    llvm::json::Value meta =
        llvm::json::Object{{"abi_version", DSV3_ABI_VERSION},
                           {"target", std::string(target)},
                           {"entries", std::move(entries)}};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << meta;
    module->setAttr("dsv3.metadata", StringAttr::get(&getContext(), text));
  }

  /// `{min, max, why}` of a `dsv3.bounds` argument attribute (set by
  /// dsv3-annotate-input-bounds) as the metadata's "bounds" object.
  LogicalResult describeBounds(Location loc, DictionaryAttr bounds,
                               llvm::json::Object &arg) {
    auto min = bounds.getAs<IntegerAttr>("min");
    auto max = bounds.getAs<IntegerAttr>("max");
    auto why = bounds.getAs<StringAttr>("why");
    if (!min || !max || !why)
      return emitError(loc, "dsv3.bounds needs integer 'min' and 'max' and a "
                            "string 'why', got ")
             << bounds;
    arg["bounds"] = llvm::json::Object{{"min", min.getInt()},
                                       {"max", max.getInt()},
                                       {"why", why.getValue().str()}};
    return success();
  }
};
} // namespace
