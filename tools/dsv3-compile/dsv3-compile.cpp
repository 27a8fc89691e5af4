//===- dsv3-compile.cpp - dsv3 graph to a loadable module -----------------===//
//
//   dsv3-compile graph.mlir --target=host -o m.so
//   dsv3-compile graph.mlir --target=cuda --cuda-chip=sm_90a -o m.so
//   dsv3-compile graph.mlir --target=host --emit=linalg
//   dsv3-compile graph.mlir --target=cuda-sim -o m.so   (cuda kernels, on host)
//
// --emit stops after a stage: linalg, bufferized, gpu (cuda), llvm (LLVM
// dialect), llvm-ir, ptx (cuda), so (default).
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Dialect.h"
#include "dsv3/Pipelines.h"
#include "dsv3/Runtime/abi.h"
#include "dsv3/Target.h"
#include "dsv3/Version.h"

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
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/X86TargetParser.h"

#include <chrono>
#include <functional>

using namespace mlir;
namespace cl = llvm::cl;

// --help shows these and the MLIR debugging flags below; LLVM's backend
// flags stay accepted but only --help-hidden lists them (as iree-compile).
static cl::OptionCategory dsv3Category("dsv3-compile options");
static cl::OptionCategory mlirCategory("MLIR debugging options");

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<graph.mlir>"),
                                      cl::init("-"), cl::cat(dsv3Category));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::init("-"), cl::cat(dsv3Category));
static cl::opt<std::string>
    target("target",
           cl::desc("host, cuda, or cuda-sim (a host module that runs the cuda "
                    "strategy's kernels with their threads serialized)"),
           cl::init("host"), cl::cat(dsv3Category));
static cl::opt<std::string>
    emit("emit",
         cl::desc("Stage to stop after: linalg, bufferized, gpu, llvm, "
                  "llvm-ir, ptx, so"),
         cl::init("so"), cl::cat(dsv3Category));
static cl::opt<std::string> cudaChip("cuda-chip", cl::init("sm_90a"),
                                     cl::desc("CUDA architecture"),
                                     cl::cat(dsv3Category));
static cl::opt<std::string> cudaFeatures("cuda-features", cl::init("+ptx80"),
                                         cl::desc("PTX features"),
                                         cl::cat(dsv3Category));
static cl::opt<std::string>
    cudaToolkit("cuda-toolkit", cl::init(""),
                cl::desc("CUDA toolkit with ptxas and fatbinary (default: "
                         "$CUDA_HOME, then PATH)"),
                cl::cat(dsv3Category));
static cl::opt<int64_t>
    kvSplitSize("kv-split-size", cl::init(-1),
                cl::desc("Split-KV decode attention: host, minimum keys per "
                         "tile (dsv3-split-kv-attention; 0: off, the "
                         "default); cuda and cuda-sim, cache rows per block "
                         "of the attention kernel (0: 256)"),
                cl::cat(dsv3Category));
static cl::opt<bool> boundByKvLen(
    "bound-by-kv-len", cl::init(true),
    cl::desc("host: decode attention and cache updates visit only rows below "
             "kv_len and the new rows (default on)"),
    cl::cat(dsv3Category));
static cl::opt<std::string> clangPath("clang", cl::init(DSV3_DEFAULT_CLANG),
                                      cl::desc("clang used to link modules"),
                                      cl::cat(dsv3Category));
static cl::opt<bool>
    progress("progress", cl::init(false),
             cl::desc("Print each pipeline pass as it starts, with the time "
                      "so far, and the link steps (stderr)"),
             cl::cat(dsv3Category));
static cl::opt<std::string> march("march", cl::init("x86-64-v3"),
                                  cl::desc("-march for host code"),
                                  cl::cat(dsv3Category));
static cl::opt<int> hostVectorWidth(
    "host-vector-width", cl::init(0),
    cl::desc("f32 lanes of the host kernels' vectors: 8 (AVX2), 16 "
             "(AVX-512), or 0 (default): 16 when --march has AVX-512 (the v4 "
             "level, a CPU name with it, or native on such a CPU), else 8"),
    cl::cat(dsv3Category));

/// The features code built with -march=`march` may use: the named CPU's (or
/// x86-64-vN level's), or this host's for native.
static llvm::StringMap<bool> marchFeatures(llvm::StringRef march) {
  if (march == "native")
    return llvm::StringMap<bool>(llvm::sys::getHostCPUFeatures());
  llvm::SmallVector<llvm::StringRef> names;
  llvm::X86::getFeaturesForCPU(march, names);
  // The list leaves out what its features imply (x86-64-v3's names avx2,
  // not avx).
  llvm::StringMap<bool> features;
  for (llvm::StringRef name : names) {
    features[name] = true;
    llvm::X86::updateImpliedFeatures(name, /*Enabled=*/true, features);
  }
  return features;
}

/// The highest x86-64 psABI level whose features -march=`march` has: what
/// the module's code needs (recorded in its metadata; the runtime refuses
/// the module on a CPU below it).
static std::string x86Level(llvm::StringRef march) {
  llvm::StringMap<bool> f = marchFeatures(march);
  auto all = [&](std::initializer_list<const char *> names) {
    return llvm::all_of(names, [&](const char *n) { return f.lookup(n); });
  };
  if (!all({"cx16", "popcnt", "sahf", "sse4.2", "ssse3"}))
    return "x86-64";
  if (!all({"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe",
            "xsave"}))
    return "x86-64-v2";
  if (!all({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}))
    return "x86-64-v3";
  return "x86-64-v4";
}

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
  for (const char *name :
       {"mlir-timing", "mlir-timing-display", "mlir-print-ir-after-all",
        "mlir-print-ir-before-all", "mlir-print-ir-after-failure",
        "mlir-print-ir-module-scope", "mlir-disable-threading",
        "mlir-print-op-on-diagnostic", "mlir-print-stacktrace-on-diagnostic",
        "mlir-elide-elementsattrs-if-larger"}) {
    auto &options = cl::getRegisteredOptions();
    if (auto it = options.find(name); it != options.end())
      it->second->addCategory(mlirCategory);
  }
  // Hidden, not removed: --help-hidden lists LLVM's flags and they work.
  for (auto &[name, option] : cl::getRegisteredOptions()) {
    bool ours = llvm::any_of(option->Categories, [](cl::OptionCategory *c) {
      return c == &dsv3Category || c == &mlirCategory;
    });
    bool generic = llvm::is_contained(
        {"help", "help-hidden", "help-list", "help-list-hidden", "version"},
        name);
    if (!ours && !generic && option->getOptionHiddenFlag() == cl::NotHidden)
      option->setHiddenFlag(cl::Hidden);
  }
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "dsv3-compile (dsv3 " DSV3_VERSION ", commit " DSV3_COMMIT
          "), module ABI v"
       << DSV3_ABI_VERSION << ", MLIR/LLVM " LLVM_VERSION_STRING "\n";
  });
  cl::ParseCommandLineOptions(argc, argv, "dsv3 graph compiler\n");

  if (target != "host" && target != "cuda" && target != "cuda-sim")
    return fail("--target must be host, cuda or cuda-sim, got '" + target +
                "'");
  // Checked up front: other chips fail deep in LLVM (sm_80/sm_89 abort in
  // instruction selection of the e4m3 conversions, sm_100a on the PTX
  // version), and a name like "h100" only at the first kernel.
  if (target == "cuda" && cudaChip != "sm_90a" && cudaChip != "sm_90")
    return fail("--cuda-chip=" + cudaChip +
                " is not supported: the cuda target is built for Hopper "
                "(sm_90a, or sm_90 without the 'a' features); it needs the "
                "FP8 e4m3 conversions and PTX 8.0");
  static const char *kEmits[] = {"linalg",  "bufferized", "gpu", "llvm",
                                 "llvm-ir", "ptx",        "so"};
  if (!llvm::is_contained(kEmits, emit))
    return fail("unknown --emit=" + emit +
                " (linalg, bufferized, gpu, llvm, llvm-ir, ptx, so)");
  if (target != "cuda" && (emit == "gpu" || emit == "ptx"))
    return fail("--emit=" + emit + " needs --target=cuda");
  if (hostVectorWidth != 0 && hostVectorWidth != 8 && hostVectorWidth != 16)
    return fail("--host-vector-width must be 8, 16 or 0 (from --march), got " +
                llvm::Twine(hostVectorWidth.getValue()));
  // The level of the code --march allows: recorded in the module, and its
  // default vector width (16 lanes where that includes AVX-512).
  const std::string level = x86Level(march);
  const int vectorWidth = hostVectorWidth        ? hostVectorWidth.getValue()
                          : level == "x86-64-v4" ? 16
                                                 : 8;
  if (emit == "so" && outputFile == "-")
    return fail("--emit=so needs -o <module.so>");
  // A bad -o is found before minutes of compiling, not by the linker.
  if (outputFile != "-") {
    StringRef dir = llvm::sys::path::parent_path(outputFile);
    if (!dir.empty() && !llvm::sys::fs::is_directory(dir))
      return fail("-o " + outputFile + ": directory '" + dir +
                  "' does not exist");
    if (llvm::sys::fs::is_directory(outputFile))
      return fail("-o " + outputFile + " is a directory");
  }

  DialectRegistry registry;
  registry.insert<dsv3::Dsv3Dialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  // An error names its source line (SourceMgrDiagnosticHandler); the failing
  // op printed after it in generic form is kilobytes for an entry or the
  // whole module, so only --mlir-print-op-on-diagnostic asks for it.
  if (!cl::getRegisteredOptions()["mlir-print-op-on-diagnostic"]
           ->getNumOccurrences())
    context.printOpOnDiagnostic(false);

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
  if (target == "host" || target == "cuda-sim") {
    dsv3::HostOptions opts;
    opts.cudaStrategy = target == "cuda-sim";
    opts.vectorWidth = vectorWidth;
    opts.x86Level = level;
    if (kvSplitSize >= 0)
      opts.kvSplitSize = kvSplitSize;
    opts.boundByKvLen = boundByKvLen;
    dsv3::buildHostPipeline(pm, stop, opts);
  } else {
    dsv3::CudaOptions opts;
    opts.chip = cudaChip;
    opts.features = cudaFeatures;
    opts.toolkit = cudaToolkit;
    opts.x86Level = level;
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
