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

LogicalResult mlir::dsv3::emitSharedObject(ModuleOp module, StringRef outPath,
                                           const LinkOptions &options) {
  SmallString<128> llPath;
  int fd;
  if (auto ec =
          llvm::sys::fs::createTemporaryFile("dsv3-module", "ll", fd, llPath))
    return module.emitError("cannot create a temporary file: ") << ec.message();
  llvm::FileRemover removeLL(llPath);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    if (failed(translateToLLVMIR(module, os)))
      return failure();
  }
  auto clang = llvm::sys::findProgramByName(options.clang);
  if (!clang)
    return module.emitError("cannot find clang '")
           << options.clang << "': " << clang.getError().message();
  std::string opt = "-O" + std::to_string(options.optLevel);
  std::string march = "-march=" + options.march;
  // The x86 backend legalizes bf16 vector selects through __truncsfbf2,
  // which this system's libgcc (GCC 12) lacks; compiler-rt's builtins archive
  // links the few helpers a module needs into it statically, so a module
  // loads on any glibc machine.
  SmallVector<StringRef> args = {*clang,
                                 opt,
                                 march,
                                 "-fPIC",
                                 "-shared",
                                 "--rtlib=compiler-rt",
                                 "-Wno-override-module",
                                 "-x",
                                 "ir",
                                 llPath,
                                 "-o",
                                 outPath};
  std::string err;
  int rc =
      llvm::sys::ExecuteAndWait(*clang, args, std::nullopt, {}, 0, 0, &err);
  if (rc != 0)
    return module.emitError("clang failed (exit ")
           << rc << ") compiling the module" << (err.empty() ? "" : ": ")
           << err;
  return success();
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
