//===- Dsv3Dialect.h - the dsv3 dialect -------------------------*- C++ -*-===//
#ifndef DSV3_IR_DSV3DIALECT_H
#define DSV3_IR_DSV3DIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dsv3/IR/Dsv3Dialect.h.inc"
#include "dsv3/IR/Dsv3Enums.h.inc"

#endif // DSV3_IR_DSV3DIALECT_H
