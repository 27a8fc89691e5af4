//===- dsv3-opt.cpp - mlir-opt with the dsv3 dialect and passes -----------===//
#include "dsv3/IR/Dsv3Dialect.h"
#include "dsv3/Passes.h"
#include "dsv3/Pipelines.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::dsv3::registerDsv3Passes();
  mlir::dsv3::registerDsv3Pipelines();
  mlir::DialectRegistry registry;
  registry.insert<mlir::dsv3::Dsv3Dialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "dsv3 optimizer driver (mlir-opt plus dsv3)\n", registry));
}
