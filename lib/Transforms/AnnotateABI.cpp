//===- AnnotateABI.cpp - record each entry's ABI as module metadata -------===//
//
// The runtime validates inputs and binds parameters from the metadata JSON
// this pass builds (docs/runtime-abi.md). It runs while the signature is still
// in tensors, where names, roles and shapes are plain to see; the string
// travels on the module until dsv3-emit-module-abi writes it into the binary.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
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
      llvm::json::Array args;
      // Inputs first, then parameters, then outputs: the order the bufferized
      // function has after buffer-results-to-out-params.
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
          std::string name = p ? p.str() : ("arg" + std::to_string(i));
          if (auto n = func.getArgAttrOfType<StringAttr>(i, "dsv3.name"))
            name = n.str();
          auto d = describe(arg.getLoc(), arg.getType(), name,
                            params ? "parameter" : "input");
          if (failed(d))
            return signalPassFailure();
          args.push_back(std::move(*d));
        }
      }
      for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
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
        llvm::json::Object{{"abi_version", 1},
                           {"target", std::string(target)},
                           {"entries", std::move(entries)}};
    std::string text;
    llvm::raw_string_ostream os(text);
    os << meta;
    module->setAttr("dsv3.metadata", StringAttr::get(&getContext(), text));
  }
};
} // namespace
