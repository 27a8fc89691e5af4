//===- dsv3-compile.cpp - dsv3 graph to a loadable module -----------------===//
//
//   dsv3-compile graph.mlir --target=host -o m.so
//   dsv3-compile graph.mlir --target=cuda --cuda-chip=sm_90a -o m.so
//   dsv3-compile graph.mlir --target=host --emit=linalg
//
// --emit stops after a stage: linalg, bufferized, gpu (cuda), llvm (LLVM
// dialect), llvm-ir, ptx (cuda), so (default).
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Dialect.h"
#include "dsv3/Pipelines.h"
#include "dsv3/Target.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>
#include <functional>

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<graph.mlir>"),
                                      cl::init("-"));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::init("-"));
static cl::opt<std::string> target("target", cl::desc("host or cuda"),
                                   cl::init("host"));
static cl::opt<std::string>
    emit("emit",
         cl::desc("Stage to stop after: linalg, bufferized, gpu, llvm, "
                  "llvm-ir, ptx, so"),
         cl::init("so"));
static cl::opt<std::string> cudaChip("cuda-chip", cl::init("sm_90a"),
                                     cl::desc("CUDA architecture"));
static cl::opt<std::string> cudaFeatures("cuda-features", cl::init("+ptx80"),
                                         cl::desc("PTX features"));
static cl::opt<std::string>
    cudaToolkit("cuda-toolkit", cl::init(""),
                cl::desc("CUDA toolkit with ptxas and fatbinary (default: "
                         "$CUDA_HOME, then PATH)"));
static cl::opt<int64_t>
    kvSplitSize("kv-split-size", cl::init(-1),
                cl::desc("Minimum keys per split of split-KV decode attention "
                         "(0: off; default: 256 for cuda, off for host)"));
static cl::opt<bool> boundByKvLen(
    "bound-by-kv-len", cl::init(true),
    cl::desc("host: decode attention and cache updates visit only rows below "
             "kv_len and the new rows (default on)"));
static cl::opt<std::string> clangPath("clang", cl::init(DSV3_DEFAULT_CLANG),
                                      cl::desc("clang used to link modules"));
static cl::opt<bool>
    progress("progress", cl::init(false),
             cl::desc("Print each pipeline pass as it starts, with the time "
                      "so far, and the link steps (stderr)"));
static cl::opt<std::string> march("march", cl::init("x86-64-v3"),
                                  cl::desc("-march for host code"));

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "dsv3-compile: error: " << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "dsv3 graph compiler\n");

  if (target != "host" && target != "cuda")
    return fail("--target must be host or cuda, got '" + target + "'");
  static const char *kEmits[] = {"linalg",  "bufferized", "gpu", "llvm",
                                 "llvm-ir", "ptx",        "so"};
  if (!llvm::is_contained(kEmits, emit))
    return fail("unknown --emit=" + emit +
                " (linalg, bufferized, gpu, llvm, llvm-ir, ptx, so)");
  if (target == "host" && (emit == "gpu" || emit == "ptx"))
    return fail("--emit=" + emit + " needs --target=cuda");
  if (emit == "so" && outputFile == "-")
    return fail("--emit=so needs -o <module.so>");

  DialectRegistry registry;
  registry.insert<dsv3::Dsv3Dialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);

  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  std::string err;
  auto file = openInputFile(inputFile, &err);
  if (!file)
    return fail(err);
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;

  dsv3::Stage stop = dsv3::Stage::LLVM;
  if (auto s = dsv3::parseStage(emit))
    stop = *s;
  PassManager pm(&context);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  // --mlir-timing: per-pass times, as mlir-opt reports them.
  DefaultTimingManager timing;
  applyDefaultTimingManagerCLOptions(timing);
  TimingScope rootTiming = timing.getRootScope();
  pm.enableTiming(rootTiming);
  if (target == "host") {
    dsv3::HostOptions opts;
    if (kvSplitSize >= 0)
      opts.kvSplitSize = kvSplitSize;
    opts.boundByKvLen = boundByKvLen;
    dsv3::buildHostPipeline(pm, stop, opts);
  } else {
    dsv3::CudaOptions opts;
    opts.chip = cudaChip;
    opts.features = cudaFeatures;
    opts.toolkit = cudaToolkit;
    if (emit == "ptx")
      opts.format = "isa";
    if (kvSplitSize >= 0)
      opts.kvSplitSize = kvSplitSize;
    dsv3::buildCudaPipeline(pm, opts, stop);
  }
  // --progress: one line per module-level pass (nested function passes run
  // inside their parent), so a long compile shows where it is.
  auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  struct Progress : PassInstrumentation {
    std::function<double()> elapsed;
    size_t count = 0;
    void runBeforePass(Pass *pass, Operation *op) override {
      if (!isa<ModuleOp>(op))
        return;
      // Function passes run grouped in an adaptor, which has no argument.
      StringRef name = pass->getArgument();
      llvm::errs() << llvm::formatv(
          "dsv3-compile: [{0,7:f1} s] pass {1}: {2}\n", elapsed(), ++count,
          name.empty() ? StringRef("(function passes)") : name);
    }
  };
  if (progress) {
    auto p = std::make_unique<Progress>();
    p->elapsed = elapsed;
    pm.addInstrumentation(std::move(p));
  }
  if (failed(pm.run(*module)))
    return 1;

  if (emit == "so") {
    if (progress)
      llvm::errs() << llvm::formatv(
          "dsv3-compile: [{0,7:f1} s] passes done; translating to LLVM IR, "
          "optimizing and linking {1}\n",
          elapsed(), outputFile);
    dsv3::LinkOptions link;
    link.clang = clangPath;
    link.march = march;
    if (failed(dsv3::emitSharedObject(*module, outputFile, link)))
      return 1;
    if (progress)
      llvm::errs() << llvm::formatv("dsv3-compile: [{0,7:f1} s] wrote {1}\n",
                                    elapsed(), outputFile);
    return 0;
  }
  auto out = openOutputFile(outputFile, &err);
  if (!out)
    return fail(err);
  if (emit == "llvm-ir") {
    if (failed(dsv3::translateToLLVMIR(*module, out->os())))
      return 1;
  } else if (emit == "ptx") {
    if (failed(dsv3::printGpuAssembly(*module, out->os())))
      return 1;
  } else {
    module->print(out->os());
  }
  out->keep();
  return 0;
}
