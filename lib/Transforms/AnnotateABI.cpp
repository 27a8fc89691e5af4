//===- AnnotateABI.cpp - record each entry's ABI as module metadata -------===//
//
// The runtime validates inputs and binds parameters from the metadata JSON
// this pass builds (docs/runtime-abi.md). It runs while the signature is still
// in tensors, where names, roles and shapes are plain to see; the string
// travels on the module until dsv3-emit-module-abi writes it into the binary.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"
#include "dsv3/Version.h"

#include "dsv3/Runtime/abi.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/InterleavedRange.h"
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
/// A parameter argument marked dsv3.same_as, checked once every entry is
/// described.
struct SameAs {
  func::FuncOp func;
  std::string name, target;
};
/// A parameter argument marked dsv3.scales_of: the block scales of another
/// parameter that the runtime quantizes at bind time.
struct ScalesOf {
  func::FuncOp func;
  std::string name, target;
  ArrayRef<int64_t> shape;
};
} // namespace

namespace {
struct Dsv3AnnotateABIPass
    : dsv3::impl::Dsv3AnnotateABIBase<Dsv3AnnotateABIPass> {
  using Base::Base;

  /// JSON for one argument or result; fails with a diagnostic at `loc`.
  /// (json::Value keeps StringRefs by reference, hence the .str() copies.)
  /// `dynamic` is the `dsv3.dynamic_dims` attribute of the argument or
  /// result: each dynamic dimension named by a symbol, with its range on
  /// inputs. `symbols` collects the symbols inputs define.
  FailureOr<llvm::json::Object> describe(Location loc, Type type,
                                         StringRef name, StringRef role,
                                         ArrayAttr dynamic,
                                         llvm::StringSet<> &symbols) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      return emitError(loc) << "entry " << role << " '" << name
                            << "' must be a ranked tensor, got " << type;
    llvm::json::Array dims;
    llvm::SmallDenseSet<int64_t> named;
    for (Attribute a : dynamic ? dynamic.getValue() : ArrayRef<Attribute>{}) {
      auto d = dyn_cast<DictionaryAttr>(a);
      auto dim = d ? d.getAs<IntegerAttr>("dim") : IntegerAttr();
      auto symbol = d ? d.getAs<StringAttr>("symbol") : StringAttr();
      auto min = d ? d.getAs<IntegerAttr>("min") : IntegerAttr();
      auto max = d ? d.getAs<IntegerAttr>("max") : IntegerAttr();
      bool input = role == "input";
      if (!dim || !symbol || symbol.getValue().empty() ||
          (input && (!min || !max)))
        return emitError(loc)
               << "dsv3.dynamic_dims of entry " << role << " '" << name
               << "' needs {dim, symbol" << (input ? ", min, max" : "")
               << "} per dimension, got " << a;
      int64_t i = dim.getInt();
      if (i < 0 || i >= tensor.getRank() || !tensor.isDynamicDim(i) ||
          !named.insert(i).second)
        return emitError(loc) << "dsv3.dynamic_dims of entry " << role << " '"
                              << name << "' names dimension " << i
                              << ", which is not a dynamic dimension of "
                              << type << " (or is named twice)";
      llvm::json::Object o{{"dim", i}, {"symbol", symbol.getValue().str()}};
      if (input) {
        if (min.getInt() < 0 || min.getInt() > max.getInt())
          return emitError(loc)
                 << "entry input '" << name << "': dynamic dimension " << i
                 << " has range [" << min.getInt() << ", " << max.getInt()
                 << "]";
        o["min"] = min.getInt();
        o["max"] = max.getInt();
        symbols.insert(symbol.getValue());
      } else if (!symbols.contains(symbol.getValue())) {
        return emitError(loc)
               << "entry " << role << " '" << name << "': dynamic dimension "
               << i << " is '" << symbol.getValue()
               << "', which no input's dimension defines";
      }
      dims.push_back(std::move(o));
    }
    // Parameters and states are bound or allocated before any call, so only
    // inputs, and outputs sized by them, may be dynamic.
    for (int64_t i = 0, e = tensor.getRank(); i < e; ++i)
      if (tensor.isDynamicDim(i) &&
          (!named.contains(i) || (role != "input" && role != "output")))
        return emitError(loc)
               << "entry " << role << " '" << name
               << "' must be statically shaped, except input dimensions "
                  "(and output dimensions they size) named in "
                  "dsv3.dynamic_dims; got "
               << type;
    StringRef dtype = abiDType(tensor.getElementType());
    if (dtype.empty())
      return emitError(loc) << "entry " << role << " '" << name
                            << "' has element type " << tensor.getElementType()
                            << ", which the module ABI cannot carry";
    llvm::json::Array shape;
    for (int64_t d : tensor.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? int64_t{-1} : d);
    llvm::json::Object o{{"name", name.str()},
                         {"role", role.str()},
                         {"dtype", dtype.str()},
                         {"shape", std::move(shape)}};
    if (!dims.empty())
      o["dynamic_dims"] = std::move(dims);
    return o;
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
    // Parameters and states by name -> how the first entry declared them.
    llvm::StringMap<std::pair<std::string, std::string>> shared;
    SmallVector<SameAs> sameAsUses;
    SmallVector<ScalesOf> scalesOfUses;
    llvm::StringMap<SmallVector<int64_t>> quantized; // name -> [N, K]
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal() || func.isPrivate())
        continue;
      auto stateResults = tieStateResults(func);
      if (failed(stateResults))
        return signalPassFailure();
      llvm::json::Array args;
      llvm::StringSet<> symbols;
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
          auto d =
              describe(arg.getLoc(), arg.getType(), name, role,
                       func.getArgAttrOfType<ArrayAttr>(i, "dsv3.dynamic_dims"),
                       symbols);
          if (failed(d))
            return signalPassFailure();
          if (params && func.getArgAttr(i, "dsv3.stacked")) {
            (*d)["stacked"] = true;
            // Host modules read a stacked parameter through a table of
            // per-expert addresses (dsv3-host-expert-pointer-tables), so
            // the runtime binds a checkpoint's experts where they lie in
            // its mapping, without gathering them into one block.
            if (target == "host") {
              (*d)["expert_pointers"] = true;
              func.setArgAttr(i, "dsv3.expert_pointers",
                              UnitAttr::get(func.getContext()));
            }
          }
          if (auto sameAs =
                  func.getArgAttrOfType<StringAttr>(i, "dsv3.same_as")) {
            (*d)["same_as"] = sameAs.str();
            sameAsUses.push_back({func, name, sameAs.str()});
          }
          if (auto from =
                  func.getArgAttrOfType<TypeAttr>(i, "dsv3.quantized_from")) {
            StringRef dtype = abiDType(from.getValue());
            if (dtype.empty()) {
              emitError(arg.getLoc(), "parameter '")
                  << name << "' is quantized_from " << from.getValue()
                  << ", which has no ABI dtype";
              return signalPassFailure();
            }
            (*d)["quantized_from"] = dtype.str();
            (*d)["block"] = llvm::json::Array{128, 128};
            quantized[name] =
                llvm::to_vector(cast<ShapedType>(arg.getType()).getShape());
          }
          if (auto of =
                  func.getArgAttrOfType<StringAttr>(i, "dsv3.scales_of")) {
            (*d)["scales_of"] = of.str();
            scalesOfUses.push_back(
                {func, name, of.str(),
                 cast<ShapedType>(arg.getType()).getShape()});
          }
          if (auto bounds =
                  func.getArgAttrOfType<DictionaryAttr>(i, "dsv3.bounds")) {
            if (failed(describeBounds(arg.getLoc(), bounds, symbols, *d)))
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
        auto d = describe(
            func.getLoc(), type, name, "output",
            func.getResultAttrOfType<ArrayAttr>(i, "dsv3.dynamic_dims"),
            symbols);
        if (failed(d))
          return signalPassFailure();
        args.push_back(std::move(*d));
      }
      if (failed(checkAgainstOtherEntries(func, args, shared)))
        return signalPassFailure();
      std::string symbol = ("dsv3_entry_" + func.getSymName()).str();
      entries.push_back(llvm::json::Object{{"name", func.getSymName().str()},
                                           {"symbol", symbol},
                                           {"args", std::move(args)}});
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(&getContext()));
    }
    // A parameter that may be a copy of another names one the module has,
    // of its dtype and shape (the runtime then compares their bytes).
    for (SameAs &u : sameAsUses) {
      auto own = shared.find(u.name), other = shared.find(u.target);
      if (other == shared.end()) {
        u.func.emitError("parameter '")
            << u.name << "' is same_as '" << u.target
            << "', which no entry of the module reads";
        return signalPassFailure();
      }
      if (other->second.second != own->second.second) {
        u.func.emitError("parameter '")
            << u.name << "' is " << own->second.second << " but its same_as '"
            << u.target << "' is " << other->second.second;
        return signalPassFailure();
      }
    }
    // Block scales name a parameter the runtime quantizes, and have the
    // shape its 128 x 128 blocks give.
    for (ScalesOf &u : scalesOfUses) {
      auto target = quantized.find(u.target);
      if (target == quantized.end()) {
        u.func.emitError("parameter '")
            << u.name << "' is scales_of '" << u.target
            << "', which no entry of the module reads as quantized_from";
        return signalPassFailure();
      }
      SmallVector<int64_t> want = {
          llvm::divideCeilSigned(target->second[0], int64_t{128}),
          llvm::divideCeilSigned(target->second[1], int64_t{128})};
      if (ArrayRef<int64_t>(want) != u.shape) {
        u.func.emitError("parameter '")
            << u.name << "' has shape [" << llvm::interleaved(u.shape)
            << "] but the 128x128 block scales of '" << u.target
            << "' have shape [" << llvm::interleaved(want) << "]";
        return signalPassFailure();
      }
    }
    llvm::json::Object meta{
        {"abi_version", DSV3_ABI_VERSION},
        {"compiler", "dsv3 " DSV3_VERSION " (" DSV3_COMMIT ")"},
        {"target", std::string(target)},
        {"entries", std::move(entries)}};
    if (!x86Level.empty()) {
      if (!llvm::is_contained({"x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4"},
                              StringRef(x86Level))) {
        module.emitError("x86-64-level must be x86-64 or x86-64-v2, -v3, -v4, "
                         "got '")
            << x86Level << "'";
        return signalPassFailure();
      }
      meta["x86_64_level"] = std::string(x86Level);
    }
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(meta));
    module->setAttr("dsv3.metadata", StringAttr::get(&getContext(), text));
  }

  /// What the runtime's loader would refuse, refused at compile time with
  /// the same meaning: two arguments of one entry with one name (a
  /// dsv3.name, parameter or state named like another argument or like the
  /// positional "argN"), and a parameter or state that another entry
  /// declares with another dtype, shape or stacking.
  LogicalResult checkAgainstOtherEntries(
      func::FuncOp func, const llvm::json::Array &args,
      llvm::StringMap<std::pair<std::string, std::string>> &shared) {
    llvm::StringSet<> names;
    for (const llvm::json::Value &v : args) {
      const llvm::json::Object &a = *v.getAsObject();
      StringRef name = *a.getString("name");
      StringRef role = *a.getString("role");
      if (!names.insert(name).second)
        return func.emitError("entry '")
               << func.getSymName() << "' has two arguments named '" << name
               << "' (the runtime addresses arguments by name)";
      if (role != "parameter" && role != "state")
        continue;
      std::string kind;
      llvm::raw_string_ostream os(kind);
      os << *a.getString("dtype") << " " << *a.get("shape")
         << (a.getBoolean("stacked").value_or(false) ? " stacked" : "");
      if (std::optional<StringRef> from = a.getString("quantized_from"))
        os << " quantized_from " << *from;
      if (std::optional<StringRef> of = a.getString("scales_of"))
        os << " scales_of " << *of;
      auto [it, inserted] =
          shared.try_emplace(name, func.getSymName().str(), kind);
      if (!inserted && it->second.second != kind)
        return func.emitError("")
               << role << " '" << name << "' is " << kind << " in entry '"
               << func.getSymName() << "' but " << it->second.second
               << " in entry '" << it->second.first
               << "' (entries share it by name)";
    }
    return success();
  }

  /// `{min, max, why}` of a `dsv3.bounds` argument attribute (set by
  /// dsv3-annotate-input-bounds) as the metadata's "bounds" object, with an
  /// optional `minus` symbol: the max is then max - that dimension's size.
  LogicalResult describeBounds(Location loc, DictionaryAttr bounds,
                               const llvm::StringSet<> &symbols,
                               llvm::json::Object &arg) {
    auto min = bounds.getAs<IntegerAttr>("min");
    auto max = bounds.getAs<IntegerAttr>("max");
    auto why = bounds.getAs<StringAttr>("why");
    if (!min || !max || !why)
      return emitError(loc, "dsv3.bounds needs integer 'min' and 'max' and a "
                            "string 'why', got ")
             << bounds;
    if (min.getInt() > max.getInt())
      return emitError(loc, "dsv3.bounds has min ")
             << min.getInt() << " > max " << max.getInt()
             << " (no value would be accepted)";
    llvm::json::Object o{{"min", min.getInt()},
                         {"max", max.getInt()},
                         {"why", why.getValue().str()}};
    if (Attribute minus = bounds.get("minus")) {
      auto symbol = dyn_cast<StringAttr>(minus);
      if (!symbol || !symbols.contains(symbol.getValue()))
        return emitError(loc, "dsv3.bounds 'minus' must name a dynamic "
                              "dimension of an earlier input, got ")
               << minus;
      o["minus"] = symbol.getValue().str();
    }
    arg["bounds"] = std::move(o);
    return success();
  }
};
} // namespace
