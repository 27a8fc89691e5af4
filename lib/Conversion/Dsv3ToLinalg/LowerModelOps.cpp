//===- LowerModelOps.cpp - embedding --------------------------------------===//
//
// The executable definition of dsv3.embedding: a gather of table rows.
// (dsv3.mlp is a composite of linears; --dsv3-decompose-mlp expands it.)
//
//===----------------------------------------------------------------------===//

#include "Patterns.h"
#include "Utils.h"

#include "dsv3/IR/Dsv3Ops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::detail;
using utils::IteratorType;

namespace {
/// y[..., h] = cast(table[clamp(ids[...], 0, V - 1), h]). The clamp keeps an
/// out-of-range id (which the runtime refuses for entry inputs) inside the
/// table instead of turning it into a wild address.
struct LowerEmbedding : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto yType = op.getResult().getType();
    int64_t rank = yType.getRank();
    int64_t vocab = op.getTable().getType().getDimSize(0);
    Type elem = yType.getElementType();
    Value table = op.getTable();
    AffineMap id = b.getMultiDimIdentityMap(rank);
    Value y =
        linalg::GenericOp::create(
            b, loc, TypeRange{yType}, ValueRange{op.getIds()},
            ValueRange{emptyLike(b, loc, yType.getShape(), elem,
                                 dynamicSizes(b, loc, op.getIds()))},
            ArrayRef<AffineMap>{id.dropResult(rank - 1), id},
            SmallVector<IteratorType>(rank, IteratorType::parallel),
            [&](OpBuilder &nb, Location l, ValueRange args) {
              Value row = toIndex(nb, l, args[0]);
              row = arith::MaxSIOp::create(
                  nb, l, row, arith::ConstantIndexOp::create(nb, l, 0));
              row = arith::MinSIOp::create(
                  nb, l, row, arith::ConstantIndexOp::create(nb, l, vocab - 1));
              Value col = linalg::IndexOp::create(nb, l, rank - 1);
              Value v =
                  tensor::ExtractOp::create(nb, l, table, ValueRange{row, col});
              linalg::YieldOp::create(nb, l,
                                      ValueRange{convertFloat(nb, l, v, elem)});
            })
            .getResult(0);
    rewriter.replaceOp(op, y);
    return success();
  }
};
} // namespace

void mlir::dsv3::populateModelOpsLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerEmbedding>(patterns.getContext());
}
