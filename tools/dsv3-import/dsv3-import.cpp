//===- dsv3-import.cpp - Hugging Face DeepSeek model dir to a dsv3 graph --===//
//
//   dsv3-import MODEL_DIR -o model.mlir [--prefill-tokens=0|P]
//       [--max-seq-len=4096] [--activation-type=bf16|f32]
//       [--prefill-logits=last|all] [--allow-unused-tensors]
//
// MODEL_DIR holds config.json and, optionally, the safetensors checkpoint
// (model.safetensors.index.json and its shards, or *.safetensors). Without
// weights the graph is built from the config alone; with them every tensor
// the graph reads is checked by name, dtype and shape, and every tensor it
// does not read is reported.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Dialect.h"
#include "dsv3/Import.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace mlir::dsv3::import;
namespace cl = llvm::cl;

static cl::OptionCategory category("dsv3-import options");
static cl::opt<std::string> modelDir(cl::Positional, cl::Required,
                                     cl::desc("<model dir | config.json>"),
                                     cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output .mlir file"),
                                       cl::init("-"), cl::cat(category));
static cl::opt<int64_t>
    prefillTokens("prefill-tokens", cl::init(ImportOptions::kDynamicTokens),
                  cl::cat(category),
                  cl::desc("Tokens per prefill call: 0 (default) for any "
                           "count from 1 to max_seq_len (a dynamic token "
                           "dimension), P for exactly P"));
static cl::opt<int64_t> maxSeqLen("max-seq-len", cl::init(4096),
                                  cl::cat(category),
                                  cl::desc("Rows of each layer's KV cache"));
static cl::opt<std::string>
    activationType("activation-type", cl::init("bf16"), cl::cat(category),
                   cl::desc("Activations and caches: bf16 (the checkpoint's) "
                            "or f32"));
static cl::opt<std::string>
    prefillLogits("prefill-logits", cl::init("last"), cl::cat(category),
                  cl::desc("Logits prefill returns: last (token) or all"));
static cl::opt<std::string>
    mtpMode("mtp", cl::init("auto"), cl::cat(category),
            cl::desc("Multi-token prediction entries (mtp_prefill, "
                     "mtp_decode, verify): auto (when the config has "
                     "num_nextn_predict_layers >= 1 and the checkpoint, if "
                     "any, holds the MTP layer), on, or off"));
static cl::opt<bool> quantizeLmHead(
    "quantize-lm-head", cl::init(false), cl::cat(category),
    cl::desc("Read lm_head (and the MTP head) as block FP8 that the runtime "
             "quantizes from the checkpoint's bf16 weight at bind time "
             "(128x128 blocks, f32 scales): half the bytes per token, logits "
             "changed by the FP8 rounding"));
static cl::opt<bool> allowUnused(
    "allow-unused-tensors", cl::init(false), cl::cat(category),
    cl::desc("Warn instead of failing on checkpoint tensors the graph does "
             "not read (MTP tensors are only reported)"));

static int fail(const llvm::Twine &msg) {
  llvm::errs() << "dsv3-import: error: " << msg << "\n";
  return 1;
}

/// `model.layers.<l>.…` with l >= num_hidden_layers: an MTP module.
static bool isMtpTensor(const std::string &name, const ModelConfig &c) {
  llvm::StringRef rest(name);
  if (!rest.consume_front("model.layers."))
    return false;
  int64_t l;
  return !rest.consumeInteger(10, l) && l >= c.numHiddenLayers &&
         l < c.numHiddenLayers + c.numNextnPredictLayers;
}

static std::string shapeOf(const std::vector<int64_t> &s) {
  return "[" +
         llvm::join(
             llvm::map_range(s, [](int64_t d) { return std::to_string(d); }),
             ", ") +
         "]";
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "Hugging Face DeepSeek checkpoint to dsv3 graph\n");

  ImportOptions options;
  options.prefillTokens = prefillTokens;
  options.maxSeqLen = maxSeqLen;
  if (activationType != "bf16" && activationType != "f32")
    return fail("--activation-type must be bf16 or f32, got '" +
                activationType + "'");
  options.f32Activations = activationType == "f32";
  if (prefillLogits != "last" && prefillLogits != "all")
    return fail("--prefill-logits must be last or all, got '" + prefillLogits +
                "'");
  options.allLogits = prefillLogits == "all";
  options.quantizeLmHead = quantizeLmHead;
  if (mtpMode != "auto" && mtpMode != "on" && mtpMode != "off")
    return fail("--mtp must be auto, on or off, got '" + mtpMode + "'");

  std::string dir = modelDir, configPath = modelDir;
  if (llvm::sys::fs::is_directory(dir)) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, "config.json");
    configPath = p.str().str();
  } else {
    dir = llvm::sys::path::parent_path(configPath).str();
    if (dir.empty())
      dir = ".";
  }
  llvm::Expected<ModelConfig> config = parseConfig(configPath);
  if (!config)
    return fail(llvm::toString(config.takeError()));

  // Only a directory can hold weights; a bare config.json path is
  // "compile without weights" even when shards lie next to it.
  std::optional<std::map<std::string, CheckpointTensor>> checkpoint;
  if (llvm::sys::fs::is_directory(modelDir)) {
    auto read = readCheckpoint(dir);
    if (!read)
      return fail(llvm::toString(read.takeError()));
    checkpoint = std::move(*read);
  }
  // The MTP layer is the checkpoint's layer num_hidden_layers; a
  // checkpoint without it (Hugging Face's own conversions drop it) gets no
  // MTP entries unless they are asked for.
  std::string mtpProbe =
      llvm::formatv("model.layers.{0}.eh_proj.weight", config->numHiddenLayers);
  options.mtp = mtpMode == "on" ||
                (mtpMode == "auto" && config->numNextnPredictLayers >= 1 &&
                 (!checkpoint || checkpoint->count(mtpProbe)));

  DialectRegistry registry;
  MLIRContext context(registry);
  auto module = buildModel(&context, *config, options);
  if (!module)
    return fail(llvm::toString(module.takeError()));

  int64_t dense = 0;
  for (int64_t l = 0; l < config->numHiddenLayers; ++l)
    dense += config->isDenseLayer(l);
  llvm::errs() << llvm::formatv(
      "dsv3-import: {0}: {1} layers ({2} dense, {3} MoE), vocab {4}, "
      "prefill {5} tokens, max_seq_len {6}, {7} activations{8}\n",
      config->architecture, config->numHiddenLayers, dense,
      config->numHiddenLayers - dense, config->vocabSize,
      options.prefillTokens == ImportOptions::kDynamicTokens
          ? std::string("1..max_seq_len")
          : std::to_string(options.prefillTokens),
      options.maxSeqLen, activationType,
      options.mtp ? llvm::formatv(", MTP layer {0} (mtp_prefill, mtp_decode, "
                                  "verify)",
                                  config->numHiddenLayers)
                        .str()
                  : std::string());

  if (llvm::sys::fs::is_directory(modelDir)) {
    if (!checkpoint) {
      llvm::errs() << "dsv3-import: no safetensors in " << dir
                   << ": graph built from config.json alone, weights are "
                      "checked when the runtime binds them\n";
    } else {
      auto params = collectParameters(**module);
      if (!params)
        return fail(llvm::toString(params.takeError()));
      std::map<std::string, CheckpointTensor> &have = *checkpoint;
      for (const auto &[name, want] : *params) {
        auto it = have.find(name);
        if (it == have.end())
          return fail(dir + ": the graph reads '" + name +
                      "', which the checkpoint does not have");
        if (it->second.dtype != want.dtype || it->second.shape != want.shape)
          return fail(llvm::formatv(
              "{0}: tensor '{1}' is {2} {3}, the graph reads {4} {5}",
              it->second.file, name, it->second.dtype,
              shapeOf(it->second.shape), want.dtype, shapeOf(want.shape)));
      }
      std::vector<std::string> mtp, extra;
      for (const auto &[name, t] : have)
        if (!params->count(name))
          (isMtpTensor(name, *config) ? mtp : extra).push_back(name);
      for (const std::string &name : extra)
        llvm::errs() << "dsv3-import: " << (allowUnused ? "warning" : "error")
                     << ": checkpoint tensor '" << name << "' ("
                     << have[name].file << ") is not read by the graph\n";
      if (!extra.empty() && !allowUnused)
        return fail(llvm::formatv("{0} checkpoint tensor(s) not read by the "
                                  "graph (--allow-unused-tensors to go on)",
                                  extra.size()));
      if (!mtp.empty())
        llvm::errs() << llvm::formatv(
            "dsv3-import: {0} tensors of the MTP layer(s) model.layers.{1}.* "
            "(multi-token prediction): not used{2}\n",
            mtp.size(), config->numHiddenLayers,
            mtpMode == "off" ? " (--mtp=off)" : "");
      llvm::errs() << llvm::formatv(
          "dsv3-import: checked {0} tensors the graph "
          "reads against {1}\n",
          params->size(), dir);
    }
  }

  std::string err;
  auto out = openOutputFile(outputFile, &err);
  if (!out)
    return fail(err);
  (*module)->print(out->os());
  out->keep();
  return 0;
}
