//===- AlignWorkgroupBuffers.cpp - 16-byte aligned shared memory ----------===//
//
// A kernel's shared buffers (workgroup attributions) become LLVM globals in
// the shared address space aligned only to their element type, so a 16-byte
// `ld.shared.v4` from a bf16 buffer, which dsv3-gpu-map-foralls emits where
// the index is a multiple of 8, could be misaligned. Upstream's lowering
// takes an `llvm.align` attribute per attribution; this pass sets it to 16
// on every attribution of every kernel, the widest access the strategies
// emit.
//
//===----------------------------------------------------------------------===//
#include "dsv3/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUALIGNWORKGROUPBUFFERS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {

constexpr int64_t kAlign = 16;

struct Dsv3GPUAlignWorkgroupBuffers
    : dsv3::impl::Dsv3GPUAlignWorkgroupBuffersBase<
          Dsv3GPUAlignWorkgroupBuffers> {
  void runOnOperation() override {
    getOperation()->walk([&](gpu::GPUFuncOp func) {
      Builder b(func);
      StringRef name = LLVM::LLVMDialect::getAlignAttrName();
      for (unsigned i = 0, e = func.getNumWorkgroupAttributions(); i < e; ++i) {
        auto old = dyn_cast_or_null<IntegerAttr>(
            func.getWorkgroupAttributionAttr(i, name));
        if (!old || old.getInt() < kAlign)
          func.setWorkgroupAttributionAttr(i, name,
                                           b.getI64IntegerAttr(kAlign));
      }
    });
  }
};

} // namespace
