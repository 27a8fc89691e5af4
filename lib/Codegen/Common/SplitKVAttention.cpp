//===- SplitKVAttention.cpp - split-KV by tiling the key reduction --------===//
//
// The strategy half of split-KV decode attention: which ops to split and into
// how many key tiles. The mechanics are upstream's tiling driver and
// dsv3.latent_attention's PartialReductionOpInterface (dialects/dsv3/IR/
// Dsv3AttentionTiling.cpp); see Passes.td.
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/CheckedArithmetic.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3SPLITKVATTENTION
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

/// Keys per tile for `queries` queries over a cache of `keys` rows: the
/// smallest divisor of `keys` that is at least `minSplitSize` and leaves at
/// least two tiles, or 0 (do not split). Prefill (more than 16 queries) has
/// parallelism to spare, and its partials [N, B, S, H, C] would grow with S.
static int64_t chooseKeyTile(int64_t keys, int64_t queries,
                             int64_t minSplitSize) {
  if (minSplitSize <= 0 || ShapedType::isDynamic(queries) || queries > 16)
    return 0;
  for (int64_t tile = minSplitSize; tile <= keys / 2; ++tile)
    if (keys % tile == 0)
      return tile;
  return 0;
}

namespace {
struct Dsv3SplitKVAttentionPass
    : dsv3::impl::Dsv3SplitKVAttentionBase<Dsv3SplitKVAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<LatentAttentionOp> ops;
    getOperation()->walk([&](LatentAttentionOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (LatentAttentionOp op : ops) {
      int64_t tile =
          chooseKeyTile(op.getCKv().getType().getDimSize(1),
                        op.getQNope().getType().getDimSize(1), minSplitSize);
      if (tile == 0)
        continue;
      // The partial outputs [N, B, S, H, C] must stay within the dialect's
      // element bound (2^48, dialects/dsv3/IR/VerifyUtils.h), which the
      // merges' verifier checks too: say so here, naming the option, rather
      // than leave IR that fails to verify.
      int64_t tiles = op.getCKv().getType().getDimSize(1) / tile;
      std::optional<int64_t> partial =
          llvm::checkedMul(tiles, op.getQNope().getType().getNumElements());
      if (!partial || *partial > (int64_t(1) << 48)) {
        op.emitOpError("split-KV partials of ")
            << tiles << " key tiles x "
            << op.getQNope().getType().getNumElements()
            << " elements exceed 2^48; raise min-split-size (now "
            << static_cast<int64_t>(minSplitSize) << ")";
        return signalPassFailure();
      }
      scf::SCFTilingOptions options;
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      options.setReductionTilingStrategy(
          ReductionTilingStrategy::PartialReductionOuterParallel);
      // Only the key dimension (b, i, h, t) is tiled.
      SmallVector<OpFoldResult> sizes(3, rewriter.getIndexAttr(0));
      sizes.push_back(rewriter.getIndexAttr(tile));
      options.setTileSizes(sizes);
      options.setReductionDims({3});
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled)) {
        op.emitOpError("could not be tiled into ")
            << op.getCKv().getType().getDimSize(1) / tile << " key tiles of "
            << tile;
        return signalPassFailure();
      }
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};
} // namespace
