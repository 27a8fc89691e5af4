//===- ir_fuzzer.cpp - MLIR text through the dsv3 dialect and lowering ----===//
//
// Fuzzes what dsv3-opt and dsv3-compile do with a .mlir file: the input is
// parsed with the dsv3 dialect and every upstream dialect dsv3-opt
// registers, and verified (the dialect's verifiers); a module that verifies
// goes through the host pipeline's graph-to-linalg stage
// (buildHostPipeline(pm, Stage::Linalg): decompositions, parameter
// outlining, the ABI, dsv3-lower-to-linalg, canonicalize, CSE), with the
// verifier after every pass. Diagnostics are the expected answer to a bad
// input and are swallowed; a crash, sanitizer report or hang is a bug.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Dialect.h"
#include "dsv3/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

using namespace mlir;

static const DialectRegistry &registry() {
  static DialectRegistry *r = [] {
    auto *r = new DialectRegistry;
    r->insert<dsv3::Dsv3Dialect>();
    registerAllDialects(*r);
    registerAllExtensions(*r);
    return r;
  }();
  return *r;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  MLIRContext context(registry(), MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler swallow(&context,
                                  [](Diagnostic &) { return success(); });
  // NUL-terminated, as the tools' MemoryBuffer::getFile hands a file to the
  // parser: MLIR's lexer reads one byte past a StringRef that is not (a
  // heap-buffer-overflow in the parser, not a dsv3 fault; docs/fuzzing.md).
  const std::string text(reinterpret_cast<const char *>(data), size);
  // Parses and verifies.
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  if (!module)
    return 0;
  PassManager pm(&context);
  dsv3::buildHostPipeline(pm, dsv3::Stage::Linalg);
  (void)pm.run(*module);
  return 0;
}
