//===- ForallKernels.cpp - pieces of the cuda strategy's forall kernels ---===//

#include "ForallKernels.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::dsv3::gpu_kernels;

Value dsv3::gpu_kernels::sharedBuffer(OpBuilder &b, Location loc,
                                      ArrayRef<int64_t> shape, Type elem,
                                      bool sharedMemory) {
  auto alloc = bufferization::AllocTensorOp::create(
      b, loc, RankedTensorType::get(shape, elem), ValueRange{});
  if (sharedMemory)
    alloc.setMemorySpaceAttr(gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace()));
  return alloc;
}

SmallVector<OpFoldResult>
dsv3::gpu_kernels::indexAttrs(OpBuilder &b, ArrayRef<int64_t> values) {
  return llvm::map_to_vector(
      values, [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); });
}

Value dsv3::gpu_kernels::extractSlot(OpBuilder &b, Location loc,
                                     RankedTensorType type, Value src,
                                     const Slot &where) {
  return tensor::ExtractSliceOp::create(b, loc, type, src, where.offsets,
                                        where.sizes, where.strides);
}

SmallVector<Value> dsv3::gpu_kernels::mappedForall(OpBuilder &b, Location loc,
                                                   ArrayRef<int64_t> extents,
                                                   ArrayRef<gpu::MappingId> ids,
                                                   bool blocks,
                                                   ValueRange inits,
                                                   ForallBody body) {
  MLIRContext *ctx = b.getContext();
  SmallVector<Attribute> mapping;
  for (gpu::MappingId id : ids)
    mapping.push_back(blocks
                          ? Attribute(gpu::GPUBlockMappingAttr::get(ctx, id))
                          : Attribute(gpu::GPUThreadMappingAttr::get(ctx, id)));
  auto forall = scf::ForallOp::create(
      b, loc, indexAttrs(b, extents), inits, b.getArrayAttr(mapping),
      [&](OpBuilder &b, Location loc, ValueRange args) {
        ValueRange ivs = args.take_front(extents.size());
        ValueRange outs = args.drop_front(extents.size());
        SmallVector<Slot> slots = body(b, loc, ivs, outs);
        auto inParallel = scf::InParallelOp::create(b, loc);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(inParallel.getBody());
        for (auto [slot, out] : llvm::zip_equal(slots, outs))
          tensor::ParallelInsertSliceOp::create(
              b, loc, slot.part, out, slot.offsets, slot.sizes, slot.strides);
      });
  return SmallVector<Value>(forall.getResults());
}
