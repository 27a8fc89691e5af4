//===- ExpertPointerTables.cpp - stacked experts read where they lie ------===//
//
// A stacked parameter [E, ...] (dsv3.moe's routed experts) arrives in a host
// module as a table of E addresses, one per expert tensor, so the runtime can
// pass a name-sorted checkpoint's experts in place. Loads through the stacked
// buffer become loads (and prefetches) through the table.
//
//===----------------------------------------------------------------------===//
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMTypes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/DenseSet.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTEXPERTPOINTERTABLES
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kExpertPointers = "dsv3.expert_pointers";

// The type an llvm.load reads for `elem`: itself when LLVM has it, else an
// integer of its width (the FP8 types) that arith.bitcast turns back.
FailureOr<Type> loadedType(Type elem) {
  if (!elem.isIntOrFloat() || elem.getIntOrFloatBitWidth() % 8 != 0)
    return failure();
  if (LLVM::isCompatibleType(elem))
    return elem;
  if (isa<FloatType>(elem))
    return Type(
        IntegerType::get(elem.getContext(), elem.getIntOrFloatBitWidth()));
  return failure();
}

// Whether `read` reads a vector along the last dimension with no mask and
// no padding (what dsv3-host-vectorize-fp8-linear emits): then it is one
// load of contiguous elements.
bool isContiguousRead(vector::TransferReadOp read) {
  return !read.getMask() && read.getVectorType().getRank() == 1 &&
         read.getPermutationMap().isMinorIdentity() &&
         llvm::all_of(read.getInBoundsValues(), [](bool b) { return b; });
}

// The address of element [%e, %i, ...] of the stacked parameter: %table[%e]
// is the address of expert e's tensor of shape type[1:] (row-major).
Value elementAddress(OpBuilder &b, Location loc, Value table,
                     MemRefType stacked, Type element, ValueRange idx) {
  Value address = memref::LoadOp::create(b, loc, table, idx.front());
  auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
  Value base = LLVM::IntToPtrOp::create(b, loc, ptrType, address);
  // offset = (i1 * d2 + i2) * d3 + i3 ... over the per-expert shape.
  ValueRange rest = idx.drop_front();
  Value offset =
      rest.empty() ? arith::ConstantIndexOp::create(b, loc, 0) : rest.front();
  for (size_t d = 1; d < rest.size(); ++d) {
    Value size =
        arith::ConstantIndexOp::create(b, loc, stacked.getDimSize(d + 1));
    offset = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, offset, size), rest[d]);
  }
  Value offset64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), offset);
  return LLVM::GEPOp::create(b, loc, ptrType, element, base,
                             ValueRange{offset64},
                             LLVM::GEPNoWrapFlags::inbounds);
}

// A prefetch through the table: llvm.intr.prefetch of the element's address
// (a hint, which cannot fault).
void rewritePrefetch(memref::PrefetchOp prefetch, Value table,
                     MemRefType stacked, Type loaded) {
  OpBuilder b(prefetch);
  Value ptr = elementAddress(b, prefetch.getLoc(), table, stacked, loaded,
                             prefetch.getIndices());
  LLVM::Prefetch::create(
      b, prefetch.getLoc(), ptr, prefetch.getIsWrite() ? 1u : 0u,
      prefetch.getLocalityHint(), prefetch.getIsDataCache() ? 1u : 0u);
  prefetch.erase();
}

// Loads [%e, %i, ...] through the table: one element for memref.load, a
// vector of contiguous elements for vector.transfer_read.
void rewriteLoad(Operation *load, Value table, MemRefType stacked,
                 Type loaded) {
  OpBuilder b(load);
  Location loc = load->getLoc();
  ValueRange idx;
  Type result = load->getResult(0).getType();
  // The GEP steps over elements; the load reads one or a vector of them.
  Type element = loaded;
  if (auto scalar = dyn_cast<memref::LoadOp>(load)) {
    idx = scalar.getIndices();
  } else {
    auto read = cast<vector::TransferReadOp>(load);
    idx = read.getIndices();
    loaded = VectorType::get(read.getVectorType().getShape(), loaded);
  }
  Value ptr = elementAddress(b, loc, table, stacked, element, idx);
  // The weights do not change during a call (invariant) and the runtime
  // aligns each expert's tensor to its element size.
  Type elem = stacked.getElementType();
  Value v = LLVM::LoadOp::create(b, loc, loaded, ptr,
                                 /*alignment=*/elem.getIntOrFloatBitWidth() / 8,
                                 /*isVolatile=*/false,
                                 /*isNonTemporal=*/false,
                                 /*isInvariant=*/true);
  if (loaded != result)
    v = arith::BitcastOp::create(b, loc, result, v);
  load->getResult(0).replaceAllUsesWith(v);
  load->erase();
}

struct Dsv3HostExpertPointerTablesPass
    : dsv3::impl::Dsv3HostExpertPointerTablesBase<
          Dsv3HostExpertPointerTablesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<std::pair<func::FuncOp, unsigned>> work;
    for (auto func : module.getOps<func::FuncOp>())
      for (unsigned i = 0; i < func.getNumArguments(); ++i)
        if (func.getArgAttr(i, kExpertPointers))
          work.push_back({func, i});
    llvm::DenseSet<std::pair<Operation *, unsigned>> done;
    while (!work.empty()) {
      auto [func, i] = work.pop_back_val();
      if (!done.insert({func, i}).second)
        continue;
      if (failed(convertArgument(func, i, symbols, work)))
        return signalPassFailure();
    }
    // A function that got a table at one call site must get one at all.
    WalkResult result = module.walk([&](func::CallOp call) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (!callee)
        return WalkResult::advance();
      for (auto [j, operand] : llvm::enumerate(call.getOperands())) {
        if (j >= callee.getNumArguments() ||
            operand.getType() == callee.getArgumentTypes()[j])
          continue;
        if (!callee.getArgAttr(j, kExpertPointers))
          continue;
        call.emitOpError("passes ")
            << operand.getType() << " as operand " << j << " of @"
            << callee.getSymName()
            << ", which other call sites give a table of per-expert "
               "addresses (dsv3.expert_pointers); a function cannot take both";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  LogicalResult
  convertArgument(func::FuncOp func, unsigned i, SymbolTable &symbols,
                  SmallVectorImpl<std::pair<func::FuncOp, unsigned>> &work) {
    if (func.isExternal())
      return func.emitError("@")
             << func.getSymName() << " takes a stacked parameter as operand "
             << i << " but has no body to read it through per-expert addresses";
    BlockArgument arg = func.getArgument(i);
    auto stacked = dyn_cast<MemRefType>(arg.getType());
    if (!stacked || stacked.getRank() < 1 || !stacked.hasStaticShape() ||
        !stacked.getLayout().isIdentity())
      return func.emitError("argument ")
             << i << " of @" << func.getSymName() << " is marked "
             << kExpertPointers
             << " but is not a statically shaped, row-major memref [E, ...]: "
             << arg.getType();
    FailureOr<Type> loaded = loadedType(stacked.getElementType());
    if (failed(loaded))
      return func.emitError("argument ")
             << i << " of @" << func.getSymName() << ": element type "
             << stacked.getElementType()
             << " cannot be read through an address (not whole bytes)";

    // Check every use before changing anything.
    SmallVector<Operation *> loads;
    SmallVector<memref::PrefetchOp> prefetches;
    for (OpOperand &use : arg.getUses()) {
      Operation *user = use.getOwner();
      if (auto prefetch = dyn_cast<memref::PrefetchOp>(user)) {
        prefetches.push_back(prefetch);
        continue;
      }
      if (isa<memref::LoadOp>(user)) {
        loads.push_back(user);
        continue;
      }
      if (auto read = dyn_cast<vector::TransferReadOp>(user);
          read && isContiguousRead(read)) {
        loads.push_back(user);
        continue;
      }
      if (auto call = dyn_cast<func::CallOp>(user)) {
        auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
        if (!callee || callee.isExternal())
          return call.emitOpError("passes the stacked parameter ")
                 << kExpertPointers << " (operand " << use.getOperandNumber()
                 << ") to a function without a body";
        work.push_back({callee, use.getOperandNumber()});
        continue;
      }
      return user->emitOpError("uses a stacked parameter that the host "
                               "module reads through per-expert addresses (")
             << kExpertPointers
             << "); only memref.load, an unmasked in-bounds "
                "vector.transfer_read along the last dimension, "
                "memref.prefetch and func.call can";
    }

    auto table = MemRefType::get({stacked.getDimSize(0)},
                                 IntegerType::get(&getContext(), 64));
    arg.setType(table);
    SmallVector<Type> inputs(func.getArgumentTypes());
    inputs[i] = table;
    func.setType(
        FunctionType::get(&getContext(), inputs, func.getResultTypes()));
    func.setArgAttr(i, kExpertPointers, UnitAttr::get(&getContext()));
    for (Operation *load : loads)
      rewriteLoad(load, arg, stacked, *loaded);
    for (memref::PrefetchOp prefetch : prefetches)
      rewritePrefetch(prefetch, arg, stacked, *loaded);
    return success();
  }
};

} // namespace
