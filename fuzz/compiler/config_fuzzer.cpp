//===- config_fuzzer.cpp - config.json through dsv3-import's path ---------===//
//
// Fuzzes what dsv3-import does with a model directory's config.json when
// there are no weights: parseConfig (lib/Import/ModelConfig.cpp) reads and
// validates the file; a config it accepts is built into the whole model with
// buildModel (BuildModel.cpp, default options: dynamic prefill, max_seq_len
// 4096), which verifies the module. Each step either succeeds or returns an
// llvm::Error with a message; a crash, sanitizer report, hang or an empty
// message is a bug. The input is passed as a file (a memfd), as dsv3-import
// reads it.
//
//===----------------------------------------------------------------------===//

#include "FuzzFile.h"

#include "dsv3/Import.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::dsv3::import;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static dsv3fuzz::MemFile file;
  const std::string &path = file.write(data, size);
  llvm::Expected<ModelConfig> config = parseConfig(path);
  if (!config) {
    std::string msg = llvm::toString(config.takeError());
    if (msg.rfind(path + ": ", 0) != 0)
      dsv3fuzz::broken("config error does not name the file: " + msg);
    return 0;
  }
  // Everything the importer derives from the config must stay in range.
  if (config->numHiddenLayers < 1 || config->hiddenSize < 1 ||
      config->vocabSize < 1 || config->numAttentionHeads < 1)
    dsv3fuzz::broken("accepted a config with an empty dimension");

  MLIRContext context(MLIRContext::Threading::DISABLED);
  auto module = buildModel(&context, *config, ImportOptions());
  if (!module) {
    std::string msg = llvm::toString(module.takeError());
    if (msg.empty())
      dsv3fuzz::broken("buildModel failed without a message");
    return 0;
  }
  if (!*module || failed(verify(**module)))
    dsv3fuzz::broken("buildModel returned a module that does not verify");
  return 0;
}
