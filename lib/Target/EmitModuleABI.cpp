//===- EmitModuleABI.cpp - exported ABI functions of a compiled module ----===//
//
// Gives every module the same three kinds of exports (docs/runtime-abi.md), so
// that the runtime can call any entry through one signature without knowing
// argument counts or ranks at compile time.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Passes.h"
#include "dsv3/Runtime/abi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "llvm/Support/JSON.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3EMITMODULEABI
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

// The host pipeline lowers memref.alloc/dealloc to calls of
// _mlir_memref_to_llvm_alloc/_free (use-generic-functions). They are defined
// here to call through the exported `dsv3_module_allocator` (abi.h), which the
// module initializes to malloc/free and the runtime replaces: a failed
// allocation then ends the call with an error instead of handing the module
// a NULL to write through.
LogicalResult emitAllocator(ModuleOp module, OpBuilder &b) {
  MLIRContext *ctx = module.getContext();
  Location loc = module.getLoc();
  if (auto aligned = module.lookupSymbol<LLVM::LLVMFuncOp>(
          "_mlir_memref_to_llvm_aligned_alloc"))
    return aligned.emitError("dsv3-emit-module-abi: aligned module "
                             "allocations are not part of the module ABI "
                             "(lower memref.alloc without use-aligned-alloc)");
  auto alloc =
      module.lookupSymbol<LLVM::LLVMFuncOp>("_mlir_memref_to_llvm_alloc");
  auto dealloc =
      module.lookupSymbol<LLVM::LLVMFuncOp>("_mlir_memref_to_llvm_free");
  if (!alloc && !dealloc)
    return success();
  auto ptrTy = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto voidTy = LLVM::LLVMVoidType::get(ctx);
  auto allocTy = LLVM::LLVMFunctionType::get(ptrTy, {i64});
  auto freeTy = LLVM::LLVMFunctionType::get(voidTy, {ptrTy});
  auto declare = [&](StringRef name, LLVM::LLVMFunctionType type) {
    auto fn = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!fn)
      fn = LLVM::LLVMFuncOp::create(b, loc, name, type);
    return fn;
  };
  for (auto [fn, type] :
       {std::make_pair(alloc, allocTy), std::make_pair(dealloc, freeTy)})
    if (fn && (!fn.isExternal() || fn.getFunctionType() != type))
      return fn.emitError("dsv3-emit-module-abi: expected an external '")
             << type << "' declaration";
  declare("malloc", allocTy);
  declare("free", freeTy);

  // struct { void *(*alloc)(uint64_t); void (*free)(void *); }, exported
  // with default visibility: the runtime finds it with dlsym.
  auto structTy = LLVM::LLVMStructType::getLiteral(ctx, {ptrTy, ptrTy});
  auto global = LLVM::GlobalOp::create(b, loc, structTy, /*isConstant=*/false,
                                       LLVM::Linkage::External,
                                       "dsv3_module_allocator", Attribute());
  {
    OpBuilder ib =
        OpBuilder::atBlockEnd(b.createBlock(&global.getInitializerRegion()));
    b.setInsertionPointToEnd(module.getBody());
    Value init = LLVM::UndefOp::create(ib, loc, structTy);
    // A named array: an ArrayRef of a braced list would dangle in the loop.
    static const StringRef fields[] = {"malloc", "free"};
    for (auto [i, name] : llvm::enumerate(fields))
      init = LLVM::InsertValueOp::create(
          ib, loc, init, LLVM::AddressOfOp::create(ib, loc, ptrTy, name),
          ArrayRef<int64_t>{int64_t(i)});
    LLVM::ReturnOp::create(ib, loc, init);
  }
  // Loads field `field` of the allocator and calls it with `fn`'s argument.
  auto defineThrough = [&](LLVM::LLVMFuncOp fn, int32_t field,
                           LLVM::LLVMFunctionType type) {
    OpBuilder fb = OpBuilder::atBlockEnd(fn.addEntryBlock(b));
    Value table = LLVM::AddressOfOp::create(fb, loc, ptrTy, global.getName());
    Value slot = LLVM::GEPOp::create(fb, loc, ptrTy, structTy, table,
                                     ArrayRef<LLVM::GEPArg>{0, field});
    Value callee = LLVM::LoadOp::create(fb, loc, ptrTy, slot);
    SmallVector<Value> operands{callee, fn.getArgument(0)};
    auto call = LLVM::CallOp::create(fb, loc, type, operands);
    LLVM::ReturnOp::create(fb, loc, call.getResults());
    fn.setVisibility_(LLVM::Visibility::Hidden);
  };
  if (alloc) {
    defineThrough(alloc, 0, allocTy);
    // Fresh memory, as malloc's is: keeps LLVM's alias analysis of the
    // buffers (and the vectorizer's no-overlap proofs) what they were.
    alloc.setResultAttr(0, LLVM::LLVMDialect::getNoAliasAttrName(),
                        UnitAttr::get(ctx));
    alloc.setNoInline(true);
  }
  if (dealloc)
    defineThrough(dealloc, 1, freeTy);
  return success();
}

struct Dsv3EmitModuleABIPass
    : dsv3::impl::Dsv3EmitModuleABIBase<Dsv3EmitModuleABIPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto metaAttr = module->getAttrOfType<StringAttr>("dsv3.metadata");
    if (!metaAttr) {
      module.emitError("dsv3-emit-module-abi: no dsv3.metadata on the module "
                       "(run dsv3-annotate-abi on the tensor-level IR first)");
      return signalPassFailure();
    }
    auto meta = llvm::json::parse(metaAttr.getValue());
    if (!meta) {
      module.emitError("dsv3-emit-module-abi: malformed dsv3.metadata: ")
          << llvm::toString(meta.takeError());
      return signalPassFailure();
    }
    // The pass reads each entry's name and argument count; anything else
    // of that shape is a hand-edited or foreign attribute, refused here
    // rather than dereferenced.
    auto malformed = [&](const llvm::Twine &what) {
      module.emitError("dsv3-emit-module-abi: malformed dsv3.metadata: ")
          << what;
      signalPassFailure();
    };
    const llvm::json::Object *root = meta->getAsObject();
    const llvm::json::Array *entries =
        root ? root->getArray("entries") : nullptr;
    if (!entries)
      return malformed("expected an object with an array \"entries\"");
    for (auto [i, e] : llvm::enumerate(*entries)) {
      const llvm::json::Object *entry = e.getAsObject();
      std::string where = "entries[" + std::to_string(i) + "]";
      if (!entry || !entry->getString("name") ||
          entry->getString("name")->empty())
        return malformed(where + " is not an object with a non-empty "
                                 "string \"name\"");
      if (entry->get("args") && !entry->getArray("args"))
        return malformed(where + ": \"args\" is not an array");
    }

    // Only the ABI is exported; the rest of the module is an implementation
    // detail that must not clash with symbols of other modules or the runtime.
    // dsv3.* argument attributes served the metadata; LLVM has no use for
    // them (and would warn).
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>()) {
      if (!fn.isExternal())
        fn.setVisibility_(LLVM::Visibility::Hidden);
      for (unsigned i = 0, e = fn.getNumArguments(); i < e; ++i)
        for (StringRef name :
             {"dsv3.parameter", "dsv3.name", "dsv3.state", "dsv3.stacked",
              "dsv3.same_as", "dsv3.quantized_from", "dsv3.scales_of",
              "dsv3.expert_pointers", "dsv3.dynamic_dims", "dsv3.bounds",
              "bufferization.writable"})
          fn.removeArgAttr(i, StringAttr::get(ctx, name));
    }

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    auto ptrTy = LLVM::LLVMPointerType::get(ctx);
    auto i32 = IntegerType::get(ctx, 32);
    auto voidTy = LLVM::LLVMVoidType::get(ctx);

    // The cuda kernels' costs per launch (dsv3-gpu-kernel-costs), for the
    // profile's GB/s and TFLOP/s.
    std::string text = metaAttr.getValue().str();
    if (auto costs =
            module->getAttrOfType<DictionaryAttr>("dsv3.kernel_costs")) {
      llvm::json::Array kernels;
      for (NamedAttribute kernel : costs) {
        auto fields = dyn_cast<DictionaryAttr>(kernel.getValue());
        if (!fields)
          return malformed("dsv3.kernel_costs." + kernel.getName().strref() +
                           " is not a dictionary");
        llvm::json::Object k{{"name", kernel.getName().str()}};
        for (StringRef field : {"bytes", "flops"}) {
          auto v = fields.getAs<IntegerAttr>(field);
          if (v && v.getValue().isNonNegative() &&
              v.getValue().getSignificantBits() <= 64)
            k[field] = v.getValue().getSExtValue();
        }
        kernels.push_back(std::move(k));
      }
      llvm::json::Object withKernels = *root;
      withKernels["kernels"] = std::move(kernels);
      text.clear();
      llvm::raw_string_ostream os(text);
      os << llvm::json::Value(std::move(withKernels));
      module->removeAttr("dsv3.kernel_costs");
    }
    text.push_back('\0');
    auto arrTy =
        LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), text.size());
    LLVM::GlobalOp::create(b, loc, arrTy, /*isConstant=*/true,
                           LLVM::Linkage::Internal, "__dsv3_metadata",
                           b.getStringAttr(text));

    auto makeFn = [&](StringRef name, Type result, ArrayRef<Type> args) {
      auto fn = LLVM::LLVMFuncOp::create(
          b, loc, name, LLVM::LLVMFunctionType::get(result, args));
      Block *body = fn.addEntryBlock(b);
      return std::make_pair(fn, OpBuilder::atBlockEnd(body));
    };

    {
      auto [fn, fb] = makeFn("dsv3_module_abi_version", i32, {});
      Value v = LLVM::ConstantOp::create(fb, loc, i32, DSV3_ABI_VERSION);
      LLVM::ReturnOp::create(fb, loc, v);
    }
    {
      auto [fn, fb] = makeFn("dsv3_module_metadata", ptrTy, {});
      Value addr = LLVM::AddressOfOp::create(fb, loc, ptrTy, "__dsv3_metadata");
      LLVM::ReturnOp::create(fb, loc, addr);
    }

    if (failed(emitAllocator(module, b)))
      return signalPassFailure();

    for (const llvm::json::Value &e : *entries) {
      StringRef name = *e.getAsObject()->getString("name");
      std::string wrapperName = ("_mlir_ciface_" + name).str();
      auto wrapper = module.lookupSymbol<LLVM::LLVMFuncOp>(wrapperName);
      if (!wrapper) {
        module.emitError("dsv3-emit-module-abi: entry '")
            << name << "' has no C wrapper '" << wrapperName << "'";
        return signalPassFailure();
      }
      auto wrapperTy = wrapper.getFunctionType();
      if (!isa<LLVM::LLVMVoidType>(wrapperTy.getReturnType()) ||
          llvm::any_of(wrapperTy.getParams(),
                       [&](Type t) { return t != ptrTy; })) {
        wrapper.emitError("entry wrapper must take only descriptor pointers "
                          "and return nothing (results must be out-params)");
        return signalPassFailure();
      }
      // The runtime passes one descriptor per metadata argument; a
      // signature that disagrees would read garbage.
      const llvm::json::Array *argList = e.getAsObject()->getArray("args");
      size_t metaArgs = argList ? argList->size() : 0;
      if (wrapperTy.getNumParams() != metaArgs) {
        wrapper.emitError("entry '")
            << name << "' takes " << wrapperTy.getNumParams()
            << " descriptors but its metadata lists " << metaArgs
            << " arguments";
        return signalPassFailure();
      }
      auto [fn, fb] = makeFn(("dsv3_entry_" + name).str(), voidTy, {ptrTy});
      Value argv = fn.getArgument(0);
      SmallVector<Value> operands;
      for (unsigned i = 0, n = wrapperTy.getNumParams(); i < n; ++i) {
        Value slot = LLVM::GEPOp::create(fb, loc, ptrTy, ptrTy, argv,
                                         ArrayRef<LLVM::GEPArg>{int32_t(i)});
        operands.push_back(LLVM::LoadOp::create(fb, loc, ptrTy, slot));
      }
      LLVM::CallOp::create(fb, loc, wrapper, operands);
      LLVM::ReturnOp::create(fb, loc, ValueRange{});
    }
    module->removeAttr("dsv3.metadata");
  }
};
} // namespace
