//===- SharedObject.cpp - LLVM dialect -> LLVM IR -> shared object --------===//
//
// The compile step shells out to clang, as IREE does to its linker: clang owns
// target selection, optimisation and linking, and the .ll it reads is the
// same text --emit=llvm-ir shows the user.
//
//===----------------------------------------------------------------------===//

#include "dsv3/Target.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/Cloning.h"

using namespace mlir;

LogicalResult mlir::dsv3::translateToLLVMIR(ModuleOp module,
                                            llvm::raw_ostream &os) {
  llvm::LLVMContext llvmContext;
  auto llvmModule = translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return module.emitError("failed to translate to LLVM IR");
  llvmModule->print(os, nullptr);
  return success();
}

namespace {
/// Temporary files of one link, removed when it ends. Paths are returned by
/// value: the list grows while earlier paths are in use.
struct TempFiles {
  SmallVector<std::unique_ptr<llvm::FileRemover>> removers;
  FailureOr<std::string> create(ModuleOp module, StringRef suffix) {
    SmallString<128> path;
    if (auto ec =
            llvm::sys::fs::createTemporaryFile("dsv3-module", suffix, path)) {
      module.emitError("cannot create a temporary file: ") << ec.message();
      return failure();
    }
    removers.push_back(std::make_unique<llvm::FileRemover>(path));
    return path.str().str();
  }
};

LogicalResult writeModule(ModuleOp module, const llvm::Module &m,
                          StringRef path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return module.emitError("cannot write ") << path << ": " << ec.message();
  m.print(os, nullptr);
  return success();
}

bool isGlue(const llvm::GlobalValue *gv) {
  auto *f = dyn_cast<llvm::Function>(gv);
  return f && !f->isDeclaration() &&
         f->hasFnAttribute(llvm::Attribute::OptimizeNone);
}
} // namespace

LogicalResult mlir::dsv3::emitSharedObject(ModuleOp module, StringRef outPath,
                                           const LinkOptions &options) {
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return module.emitError("failed to translate to LLVM IR");
  auto clang = llvm::sys::findProgramByName(options.clang);
  if (!clang)
    return module.emitError("cannot find clang '")
           << options.clang << "': " << clang.getError().message();
  auto run = [&](ArrayRef<StringRef> args) -> LogicalResult {
    std::string err;
    int rc =
        llvm::sys::ExecuteAndWait(*clang, args, std::nullopt, {}, 0, 0, &err);
    if (rc != 0)
      return module.emitError("clang failed (exit ")
             << rc << ") compiling the module" << (err.empty() ? "" : ": ")
             << err;
    return success();
  };

  // Functions marked by dsv3-mark-glue-functions (optnone: an imported
  // model's entries, one block of calls with ~100k values) go to a second
  // translation unit compiled at -O0. Left in the -O3 one they cost nothing
  // to optimize but feed LLVM's interprocedural passes (called-value
  // propagation took 142 s of a 150 s compile of DeepSeek-V3's 61 layers).
  TempFiles temps;
  std::string opt = "-O" + std::to_string(options.optLevel);
  std::string march = "-march=" + options.march;
  SmallVector<std::string> objects;
  auto compile = [&](const llvm::Module &m, StringRef level) -> LogicalResult {
    FailureOr<std::string> ll = temps.create(module, "ll");
    FailureOr<std::string> obj = temps.create(module, "o");
    if (failed(ll) || failed(obj) || failed(writeModule(module, m, *ll)))
      return failure();
    objects.push_back(*obj);
    return run({*clang, level, march, "-fPIC", "-Wno-override-module", "-c",
                "-x", "ir", *ll, "-o", *obj});
  };
  if (llvm::any_of(llvmModule->functions(),
                   [](const llvm::Function &f) { return isGlue(&f); })) {
    // Every global keeps one definition, in the -O3 unit; the glue unit
    // refers to it. Local symbols become hidden (module-internal) external
    // ones for that: a duplicated mutable global, such as the handle of a
    // loaded GPU module that a constructor fills, would split in two.
    for (llvm::GlobalValue &gv : llvmModule->global_values()) {
      if (!gv.hasLocalLinkage() || gv.isDeclaration())
        continue;
      if (!gv.hasName())
        gv.setName("dsv3.local");
      gv.setLinkage(llvm::GlobalValue::ExternalLinkage);
      gv.setVisibility(llvm::GlobalValue::HiddenVisibility);
    }
    llvm::ValueToValueMapTy toGlue;
    std::unique_ptr<llvm::Module> glue =
        llvm::CloneModule(*llvmModule, toGlue, [](const llvm::GlobalValue *gv) {
          return isGlue(gv);
        });
    // Declarations the glue does not use (llvm.global_ctors among them).
    for (llvm::GlobalVariable &g : llvm::make_early_inc_range(glue->globals()))
      if (g.use_empty())
        g.eraseFromParent();
    for (llvm::Function &f : *llvmModule)
      if (isGlue(&f))
        f.deleteBody();
    if (failed(compile(*llvmModule, opt)) || failed(compile(*glue, "-O0")))
      return failure();
  } else if (failed(compile(*llvmModule, opt))) {
    return failure();
  }
  // The x86 backend legalizes bf16 vector selects through __truncsfbf2,
  // which this system's libgcc (GCC 12) lacks; compiler-rt's builtins archive
  // links the few helpers a module needs into it statically, so a module
  // loads on any glibc machine.
  SmallVector<StringRef> link = {*clang, "-fPIC", "-shared",
                                 "--rtlib=compiler-rt"};
  for (const std::string &o : objects)
    link.push_back(o);
  link.append({"-o", outPath});
  return run(link);
}

LogicalResult mlir::dsv3::printGpuAssembly(ModuleOp module,
                                           llvm::raw_ostream &os) {
  bool found = false;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = cast<gpu::ObjectAttr>(attr);
      if (object.getFormat() != gpu::CompilationTarget::Assembly)
        continue;
      os << "// gpu.binary @" << binary.getSymName() << "\n"
         << object.getObject().getValue() << "\n";
      found = true;
    }
  });
  if (!found)
    return module.emitError("no PTX in the module (was it compiled with "
                            "format=isa?)");
  return success();
}
