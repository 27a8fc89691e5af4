//===- Dsv3Dialect.cpp - the dsv3 dialect ---------------------------------===//
#include "dsv3/IR/Dsv3Dialect.h"
#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::dsv3;

#include "dsv3/IR/Dsv3Dialect.cpp.inc"
#include "dsv3/IR/Dsv3Enums.cpp.inc"

void Dsv3Dialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dsv3/IR/Dsv3Ops.cpp.inc"
      >();
}
