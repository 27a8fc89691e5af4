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
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
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
// Cuts every block of the (-O0) glue functions into pieces of at most
// kGlueBlockSize instructions joined by branches. FastISel gives up on some
// instructions of an entry (aggregate descriptor values), and SelectionDAG
// then selects the rest of that block at once, in time superlinear in its
// size; with bounded blocks the cost is linear in the number of layers. At
// -O0 nothing merges the pieces again.
void splitLargeBlocks(llvm::Module &m) {
  constexpr unsigned kGlueBlockSize = 256;
  for (llvm::Function &f : m) {
    if (f.isDeclaration())
      continue;
    SmallVector<llvm::BasicBlock *> blocks;
    for (llvm::BasicBlock &b : f)
      blocks.push_back(&b);
    for (llvm::BasicBlock *b : blocks) {
      size_t left = b->size();
      while (left > kGlueBlockSize) {
        auto at = b->getFirstNonPHIIt();
        std::advance(at, kGlueBlockSize);
        if (at == b->end() || at->isTerminator())
          break;
        left -= std::distance(b->begin(), at);
        b = llvm::SplitBlock(b, at);
      }
    }
  }
}
// An entry reaches the layers through two wrappers: dsv3_entry_<name>
// unpacks the argument array into descriptors, _mlir_ciface_<name> expands
// every descriptor into scalars and calls <name> (~10k scalar arguments at
// 61 layers), which calls the layers. Selecting a call or a function entry
// with 10k arguments is superlinear in that count (seconds each), so glue
// functions called once, by other glue, are inlined into their caller (-O0
// runs the always-inliner) and the 10k-argument boundaries disappear.
void inlineGlueChains(llvm::Module &m) {
  for (llvm::Function &f : m) {
    if (f.isDeclaration() || !f.hasOneUse())
      continue;
    auto *call = dyn_cast<llvm::CallInst>(f.user_back());
    if (!call || call->getCalledFunction() != &f ||
        call->getFunction()->isDeclaration())
      continue;
    // Only this unit calls it: the -O3 unit holds none of the glue.
    f.setLinkage(llvm::GlobalValue::InternalLinkage);
    f.removeFnAttr(llvm::Attribute::OptimizeNone);
    f.removeFnAttr(llvm::Attribute::NoInline);
    f.addFnAttr(llvm::Attribute::AlwaysInline);
  }
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
  // Runs the commands side by side (the -O3 unit and the glue unit are
  // independent) and reports each that fails with its command line.
  using Command = std::vector<std::string>;
  auto run = [&](ArrayRef<Command> commands) -> LogicalResult {
    std::vector<llvm::sys::ProcessInfo> running;
    bool ok = true;
    auto commandLine = [](const Command &c) {
      std::string line;
      for (const std::string &a : c)
        line += (line.empty() ? "" : " ") + a;
      return line;
    };
    for (const Command &c : commands) {
      SmallVector<StringRef> args(c.begin(), c.end());
      std::string err;
      bool failedToRun = false;
      running.push_back(llvm::sys::ExecuteNoWait(*clang, args, std::nullopt, {},
                                                 0, &err, &failedToRun));
      if (failedToRun) {
        module.emitError("cannot run: ") << commandLine(c) << ": " << err;
        ok = false;
      }
    }
    for (auto [c, pi] : llvm::zip(commands, running)) {
      if (pi.Pid == llvm::sys::ProcessInfo::InvalidPid)
        continue;
      std::string err;
      llvm::sys::ProcessInfo done =
          llvm::sys::Wait(pi, /*SecondsToWait=*/std::nullopt, &err);
      if (done.ReturnCode != 0) {
        module.emitError("clang failed (exit ")
            << done.ReturnCode << (err.empty() ? "" : ": " + err)
            << "): " << commandLine(c);
        ok = false;
      }
    }
    return success(ok);
  };

  // Functions marked by dsv3-mark-glue-functions (optnone: an imported
  // model's entries, one block of calls with ~100k values) go to a second
  // translation unit compiled at -O0. Left in the -O3 one they cost nothing
  // to optimize but feed LLVM's interprocedural passes (called-value
  // propagation took 142 s of a 150 s compile of DeepSeek-V3's 61 layers).
  bool usesOpenMP = llvm::any_of(llvmModule->functions(), [](auto &f) {
    return f.isDeclaration() && f.getName().starts_with("__kmpc_");
  });
  TempFiles temps;
  std::string opt = "-O" + std::to_string(options.optLevel);
  std::string march = "-march=" + options.march;
  SmallVector<std::string> objects;
  std::vector<Command> compiles;
  auto compile = [&](const llvm::Module &m, StringRef level) -> LogicalResult {
    FailureOr<std::string> ll = temps.create(module, "ll");
    FailureOr<std::string> obj = temps.create(module, "o");
    if (failed(ll) || failed(obj) || failed(writeModule(module, m, *ll)))
      return failure();
    objects.push_back(*obj);
    compiles.push_back({*clang, level.str(), march, "-fPIC",
                        "-Wno-override-module", "-c", "-x", "ir", *ll, "-o",
                        *obj});
    return success();
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
    splitLargeBlocks(*glue);
    inlineGlueChains(*glue);
    if (failed(compile(*llvmModule, opt)) || failed(compile(*glue, "-O0")))
      return failure();
  } else if (failed(compile(*llvmModule, opt))) {
    return failure();
  }
  // The x86 backend legalizes bf16 vector selects through __truncsfbf2,
  // which this system's libgcc (GCC 12) lacks; compiler-rt's builtins archive
  // links the few helpers a module needs into it statically, so a module
  // loads on any glibc machine.
  if (failed(run(compiles)))
    return failure();
  Command link = {*clang, "-fPIC", "-shared", "--rtlib=compiler-rt"};
  link.insert(link.end(), objects.begin(), objects.end());
  // Parallel loops run on LLVM's OpenMP runtime (libomp.so.5, from
  // libomp-22-dev here; the runtime sets its thread count per session).
  if (usesOpenMP)
    link.push_back("-fopenmp=libomp");
  link.insert(link.end(), {"-o", outPath.str()});
  return run({link});
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
