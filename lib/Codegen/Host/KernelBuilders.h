//===- KernelBuilders.h - pieces the host vector kernels share ---*- C++
//-*-===//
#ifndef DSV3_CODEGEN_HOST_KERNELBUILDERS_H
#define DSV3_CODEGEN_HOST_KERNELBUILDERS_H

#include "mlir/IR/Builders.h"

namespace mlir::dsv3::host {

/// An index constant.
Value cIdx(OpBuilder &b, Location loc, int64_t v);

/// `input` (a tensor) in f32: itself, or widened once by a `linalg.copy`.
Value widenToF32(OpBuilder &b, Location loc, Value input);

/// A vector of e4m3 codes -> their f32 values times 2^-8, exactly for all
/// 254 finite codes (the two NaN codes give +-480): the code's low 7 bits
/// go to bits 13..7 of an f16 and its sign to bit 15 (sign-extend, shift,
/// mask, vcvtph2ps on AVX2 + F16C). Callers fold 2^8 into the block scale.
Value widenE4M3Scaled(OpBuilder &b, Location loc, Value codes);

/// Ends the body of an scf.forall iteration that produced `part`: writes it
/// at `offsets` (with `sizes`, unit strides) of the shared output `out`.
void yieldSlice(OpBuilder &b, Location loc, Value part, Value out,
                ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes);

} // namespace mlir::dsv3::host

#endif // DSV3_CODEGEN_HOST_KERNELBUILDERS_H
