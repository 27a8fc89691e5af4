//===- KernelBuilders.h - pieces the host vector kernels share ---*- C++
//-*-===//
#ifndef DSV3_CODEGEN_HOST_KERNELBUILDERS_H
#define DSV3_CODEGEN_HOST_KERNELBUILDERS_H

#include "mlir/IR/Builders.h"

namespace mlir::dsv3::host {

/// An index constant.
Value cIdx(OpBuilder &b, Location loc, int64_t v);

/// `input` (a tensor) with element type `elem`: itself, or converted once
/// by a `linalg.copy` (which extends or truncates floats).
Value castElements(OpBuilder &b, Location loc, Value input, Type elem);

/// `input` (a tensor) in f32: itself, or widened once by a `linalg.copy`.
Value widenToF32(OpBuilder &b, Location loc, Value input);

/// An f32 tensor of zeros, e.g. the running sums a kernel's tiles add to.
Value zerosF32(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes);

/// Calls `body` on tiles that cover [begin, end): tiles of tiles[0] up to the
/// last whole one, then at most one of each smaller size (only those a
/// static count needs), each an scf.for. `body` returns the updated `dest`.
using TileBody = llvm::function_ref<Value(OpBuilder &, Location, Value start,
                                          int64_t tile, Value dest)>;
Value forEachTile(OpBuilder &b, Location loc, OpFoldResult begin,
                  OpFoldResult end, ArrayRef<int64_t> tiles, Value dest,
                  TileBody body);

/// A vector of e4m3 codes -> their f32 values times 2^-8, exactly for all
/// 254 finite codes (the two NaN codes give +-480): the code's low 7 bits
/// go to bits 13..7 of an f16 and its sign to bit 15 (sign-extend, shift,
/// mask, vcvtph2ps on AVX2 + F16C). Callers fold 2^8 into the block scale.
Value widenE4M3Scaled(OpBuilder &b, Location loc, Value codes);
/// widenE4M3Scaled in two steps: the f16 bits (a vector of i16), then f32.
/// Between them the bits can go through memory: vcvtph2ps from memory needs
/// no shuffle port, the register form does.
Value e4m3ToScaledF16Bits(OpBuilder &b, Location loc, Value codes);
Value scaledF16BitsToF32(OpBuilder &b, Location loc, Value bits);

/// The sum of the lanes of `lanes` (8 or 16 f32) by the tree of LLVM's x86
/// lowering of `vector.reduction <add>` with reassoc: 16 lanes first add
/// lane i + i+8 (the two 256-bit halves), then 8 lanes i + i+4, i + i+2,
/// 0 + 1. Written as the halves' add and an 8-lane reduction, so the tree is
/// the one sumLanesByRows builds whatever LLVM does at 512 bits.
Value reduceLanes(OpBuilder &b, Location loc, Value lanes);
/// Whether sumLanesByRows takes `numRows` vectors of `width` lanes.
bool canSumLanesByRows(int64_t numRows, int64_t width);
/// The lane sums of `lanes` (4 or 8 vectors of 8 or 16 f32) as one vector,
/// element r the sum of lanes[r], each by reduceLanes' tree (16 lanes: the
/// halves added first), so the bits equal one reduceLanes per row; but each
/// step adds the partial sums of two (then four) rows in one vector, so 8
/// rows of 8 take 7 adds and 14 shuffles rather than 24 adds, 24 shuffles
/// and 8 inserts. Callers that mix the two forms depend on the trees being
/// the same; linear.test compares them bit for bit.
Value sumLanesByRows(OpBuilder &b, Location loc, ValueRange lanes);

/// Bytes per cache line (x86): the step of the kernels' prefetches.
constexpr int64_t kCacheLine = 64;
/// A read-only memref view of the tensor `weights` (any layout:
/// bufferization casts its buffer to the view's fully dynamic strides), for
/// prefetches of the weights a kernel reads through vector.transfer_read.
Value prefetchView(OpBuilder &b, Location loc, Value weights);
/// `index` clamped to the last element of dimension `dim` of `view`: a
/// prefetch of "the next tile" past the end reads the last tile again, not
/// an address outside the weights.
Value clampToLast(OpBuilder &b, Location loc, Value view, int64_t dim,
                  Value index);
/// A read prefetch into all cache levels of element `indices` of `view` (a
/// prefetchView; the indices in bounds).
void prefetchRead(OpBuilder &b, Location loc, Value view, ValueRange indices);

/// Ends the body of an scf.forall iteration that produced `part`: writes it
/// at `offsets` (with `sizes`, unit strides) of the shared output `out`.
void yieldSlice(OpBuilder &b, Location loc, Value part, Value out,
                ArrayRef<OpFoldResult> offsets, ArrayRef<OpFoldResult> sizes);

/// The location of the router-logits linear split out of a dsv3.moe_gate at
/// `gateLoc`: dsv3-name-op-locations' `moe_gate_<x>` becomes `linear_<x>`,
/// so the linear's kernel says what it is; any other location is kept.
Location routerLogitsLoc(Location gateLoc);

} // namespace mlir::dsv3::host

#endif // DSV3_CODEGEN_HOST_KERNELBUILDERS_H
