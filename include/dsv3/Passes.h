//===- Passes.h - dsv3 passes -----------------------------------*- C++ -*-===//
//
// Declarations of every dsv3 pass. Heavy dialect headers stay out of here on
// purpose: each pass's .cpp pulls in what it needs.
//
//===----------------------------------------------------------------------===//
#ifndef DSV3_PASSES_H
#define DSV3_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir::dsv3 {

#define GEN_PASS_DECL
#include "dsv3/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dsv3/Passes.h.inc"

} // namespace mlir::dsv3

#endif // DSV3_PASSES_H
