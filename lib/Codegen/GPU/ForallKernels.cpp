//===- ForallKernels.cpp - pieces of the cuda strategy's forall kernels ---===//

#include "ForallKernels.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/CheckedArithmetic.h"

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

Value dsv3::gpu_kernels::cF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

Value dsv3::gpu_kernels::toF32(OpBuilder &b, Location loc, Value v) {
  Type elem = getElementTypeOrSelf(v.getType());
  if (elem.isF32())
    return v;
  Type f32 = b.getF32Type();
  if (auto vec = dyn_cast<VectorType>(v.getType()))
    f32 = vec.clone(f32);
  return arith::ExtFOp::create(b, loc, f32, v);
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

SmallVector<Value> dsv3::gpu_kernels::warpForall(OpBuilder &b, Location loc,
                                                 int64_t warps,
                                                 ValueRange inits,
                                                 ForallBody body) {
  auto mapping = b.getArrayAttr({gpu::GPUWarpMappingAttr::get(
      b.getContext(), gpu::MappingId::LinearDim0)});
  auto forall = scf::ForallOp::create(
      b, loc, indexAttrs(b, {warps}), inits, mapping,
      [&](OpBuilder &b, Location loc, ValueRange args) {
        SmallVector<Slot> slots =
            body(b, loc, args.take_front(1), args.drop_front(1));
        auto inParallel = scf::InParallelOp::create(b, loc);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(inParallel.getBody());
        for (auto [slot, out] : llvm::zip_equal(slots, args.drop_front(1)))
          tensor::ParallelInsertSliceOp::create(
              b, loc, slot.part, out, slot.offsets, slot.sizes, slot.strides);
      });
  return SmallVector<Value>(forall.getResults());
}

bool dsv3::gpu_kernels::isWarpForall(scf::ForallOp forall) {
  std::optional<ArrayAttr> mapping = forall.getMapping();
  return mapping && !mapping->empty() &&
         llvm::all_of(*mapping, llvm::IsaPred<gpu::GPUWarpMappingAttr>);
}

Value dsv3::gpu_kernels::readTileF32(OpBuilder &b, Location loc, Value src,
                                     ValueRange indices, int64_t rows,
                                     int64_t cols) {
  Type elem = cast<ShapedType>(src.getType()).getElementType();
  Value pad = arith::ConstantOp::create(b, loc, elem, b.getZeroAttr(elem));
  return toF32(b, loc,
               vector::TransferReadOp::create(
                   b, loc, VectorType::get({rows, cols}, elem), src, indices,
                   pad, ArrayRef<bool>{true, true}));
}

Value dsv3::gpu_kernels::warpContract(OpBuilder &b, Location loc, Value lhs,
                                      Value rhs, Value acc) {
  MLIRContext *ctx = b.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  auto maps = AffineMap::inferFromExprList(
      ArrayRef<ArrayRef<AffineExpr>>{{m, k}, {n, k}, {m, n}}, ctx);
  auto iter = [&](vector::IteratorType t) {
    return vector::IteratorTypeAttr::get(ctx, t);
  };
  auto iterators = b.getArrayAttr({iter(vector::IteratorType::parallel),
                                   iter(vector::IteratorType::parallel),
                                   iter(vector::IteratorType::reduction)});
  return vector::ContractionOp::create(
      b, loc, lhs, rhs, acc, b.getAffineMapArrayAttr(maps), iterators);
}

Value dsv3::gpu_kernels::sumOver(
    OpBuilder &b, Location loc, Value n, Value zero,
    function_ref<Value(OpBuilder &, Location, Value)> body) {
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  return scf::ForOp::create(
             b, loc, c0, n, c1, ValueRange{zero},
             [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
               Value v = body(b, loc, j);
               Value next =
                   isa<FloatType>(v.getType())
                       ? arith::AddFOp::create(b, loc, it[0], v).getResult()
                       : arith::AddIOp::create(b, loc, it[0], v).getResult();
               scf::YieldOp::create(b, loc, next);
             })
      .getResult(0);
}

Value dsv3::gpu_kernels::sumOver(
    OpBuilder &b, Location loc, int64_t n, Value zero,
    function_ref<Value(OpBuilder &, Location, Value)> body) {
  return sumOver(b, loc, arith::ConstantIndexOp::create(b, loc, n), zero, body);
}

SmallVector<Value> dsv3::gpu_kernels::scalarsPerThread(
    OpBuilder &b, Location loc, int64_t n, ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value)> body) {
  return mappedForall(
      b, loc, {n}, {gpu::MappingId::DimX}, /*blocks=*/false, inits,
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        SmallVector<Value> values = body(b, loc, ivs[0]);
        SmallVector<Slot> slots;
        for (auto [v, out] : llvm::zip_equal(values, outs)) {
          Slot at{Value(), {ivs[0]}, indexAttrs(b, {1}), indexAttrs(b, {1})};
          Value one = extractSlot(
              b, loc, RankedTensorType::get({1}, v.getType()), out, at);
          at.part = tensor::InsertOp::create(
              b, loc, v, one,
              ValueRange{arith::ConstantIndexOp::create(b, loc, 0)});
          slots.push_back(at);
        }
        return slots;
      });
}

int64_t dsv3::gpu_kernels::threadsDividing(int64_t width, int64_t most) {
  int64_t t = most;
  while (width % t != 0)
    t /= 2;
  return t;
}

Location dsv3::gpu_kernels::withNameSuffix(Location loc, StringRef suffix) {
  auto name = dyn_cast<NameLoc>(loc);
  if (!name)
    return loc;
  return NameLoc::get(
      StringAttr::get(loc.getContext(), name.getName().getValue() + suffix),
      name.getChildLoc());
}

bool dsv3::gpu_kernels::isMultipleOf(Value v, int64_t factor) {
  if (factor == 1)
    return true;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return *c % factor == 0;
  if (auto mul = v.getDefiningOp<arith::MulIOp>())
    return isMultipleOf(mul.getLhs(), factor) ||
           isMultipleOf(mul.getRhs(), factor);
  if (auto add = v.getDefiningOp<arith::AddIOp>())
    return isMultipleOf(add.getLhs(), factor) &&
           isMultipleOf(add.getRhs(), factor);
  // min and max of multiples (clamped indices) are multiples.
  if (isa_and_present<arith::MinSIOp, arith::MaxSIOp, arith::MinUIOp,
                      arith::MaxUIOp>(v.getDefiningOp()))
    return isMultipleOf(v.getDefiningOp()->getOperand(0), factor) &&
           isMultipleOf(v.getDefiningOp()->getOperand(1), factor);
  if (auto loop = scf::getForInductionVarOwner(v))
    return isMultipleOf(loop.getLowerBound(), factor) &&
           isMultipleOf(loop.getStep(), factor);
  return false;
}

bool dsv3::gpu_kernels::isAlignedAccess(Value memref, Value last, int64_t unit,
                                        int64_t bytes, int64_t align) {
  auto type = cast<MemRefType>(memref.getType());
  if (unit * bytes % align != 0 || align % bytes != 0 ||
      !isMultipleOf(last, align / bytes))
    return false;
  if (type.getLayout().isIdentity()) {
    int64_t inner = type.getShape().back();
    return !ShapedType::isDynamic(inner) && inner * bytes % align == 0;
  }
  auto sub = memref.getDefiningOp<memref::SubViewOp>();
  if (!sub)
    return false;
  int64_t srcLast = sub.getSourceType().getRank() - 1;
  std::optional<int64_t> stride =
      getConstantIntValue(sub.getMixedStrides()[srcLast]);
  if (!stride || *stride != 1 || sub.getDroppedDims().test(srcLast))
    return false;
  OpFoldResult offset = sub.getMixedOffsets()[srcLast];
  if (std::optional<int64_t> c = getConstantIntValue(offset)) {
    if (*c % (align / bytes) != 0)
      return false;
    // Any value that is a multiple stands for the constant offset.
    return isAlignedAccess(sub.getSource(), last, unit, bytes, align);
  }
  return isAlignedAccess(sub.getSource(), cast<Value>(offset), unit, bytes,
                         align);
}

llvm::MaybeAlign dsv3::gpu_kernels::accessAlignment(Value memref,
                                                    VectorType vec,
                                                    ValueRange indices,
                                                    int64_t least) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t bits = type.getElementTypeBitWidth();
  if (bits % 8 != 0)
    return {};
  for (int64_t align = 16; align >= least; align /= 2)
    if (isAlignedAccess(memref, indices.back(), vec.getNumElements(), bits / 8,
                        align))
      return llvm::MaybeAlign(align);
  return {};
}

std::optional<int64_t> dsv3::gpu_kernels::typeBytes(ShapedType type) {
  if (!type.hasStaticShape() || !type.getElementType().isIntOrFloat())
    return std::nullopt;
  int64_t bytes =
      llvm::divideCeil(type.getElementType().getIntOrFloatBitWidth(), 8);
  for (int64_t d : type.getShape()) {
    std::optional<int64_t> next = llvm::checkedMul(bytes, d);
    if (!next)
      return std::nullopt;
    bytes = *next;
  }
  return bytes;
}

std::optional<int64_t>
dsv3::gpu_kernels::operandBytes(scf::ForallOp blockForall,
                                ArrayRef<Value> skip) {
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(blockForall.getRegion(), used);
  for (Value result : blockForall.getResults())
    used.insert(result);
  int64_t total = 0;
  for (Value v : used) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || llvm::is_contained(skip, v))
      continue;
    std::optional<int64_t> bytes = typeBytes(type);
    std::optional<int64_t> sum =
        bytes ? llvm::checkedAdd(total, *bytes) : std::nullopt;
    if (!sum)
      return std::nullopt;
    total = *sum;
  }
  return total;
}

std::optional<int64_t>
dsv3::gpu_kernels::checkedProduct(ArrayRef<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors) {
    std::optional<int64_t> next = llvm::checkedMul(product, f);
    if (!next)
      return std::nullopt;
    product = *next;
  }
  return product;
}

void dsv3::gpu_kernels::setKernelCost(scf::ForallOp blockForall,
                                      KernelCost cost) {
  Builder b(blockForall.getContext());
  SmallVector<NamedAttribute> fields;
  if (cost.bytes)
    fields.push_back(b.getNamedAttr("bytes", b.getI64IntegerAttr(*cost.bytes)));
  if (cost.flops)
    fields.push_back(b.getNamedAttr("flops", b.getI64IntegerAttr(*cost.flops)));
  if (!fields.empty())
    blockForall->setAttr(kKernelCostAttr, b.getDictionaryAttr(fields));
}
