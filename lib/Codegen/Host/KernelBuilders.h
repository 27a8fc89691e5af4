//===- KernelBuilders.h - pieces the host vector kernels share ---*- C++
//-*-===//
#ifndef DSV3_CODEGEN_HOST_KERNELBUILDERS_H
#define DSV3_CODEGEN_HOST_KERNELBUILDERS_H

#include "mlir/IR/Builders.h"

namespace mlir::dsv3::host {

/// `input` (a tensor) in f32: itself, or widened once by a `linalg.copy`.
Value widenToF32(OpBuilder &b, Location loc, Value input);

/// Ends the body of an scf.forall iteration that produced `part`: writes it
/// at `offsets` (with `sizes`, unit strides) of the shared output `out`.
void yieldSlice(OpBuilder &b, Location loc, Value part, Value out,
                ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes);

} // namespace mlir::dsv3::host

#endif // DSV3_CODEGEN_HOST_KERNELBUILDERS_H
