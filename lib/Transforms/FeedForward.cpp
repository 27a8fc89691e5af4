//===- FeedForward.cpp - SwiGLU builder -----------------------------------===//

#include "FeedForward.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

Value mlir::dsv3::detail::buildSwiGLU(OpBuilder &b, Location loc, Value g,
                                      Value u) {
  auto type = cast<RankedTensorType>(g.getType());
  Type f32 = b.getF32Type();
  Value init =
      tensor::EmptyOp::create(b, loc, tensor::getMixedSizes(b, loc, g), f32);
  AffineMap id = b.getMultiDimIdentityMap(2);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{g, u}, ValueRange{init},
             ArrayRef<AffineMap>{id, id, id},
             ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::parallel},
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value one = arith::ConstantOp::create(nb, l, f32,
                                                     nb.getF32FloatAttr(1.0f));
               Value neg = arith::NegFOp::create(nb, l, args[0]);
               Value ex = math::ExpOp::create(nb, l, neg);
               Value den = arith::AddFOp::create(nb, l, one, ex);
               Value s = arith::DivFOp::create(nb, l, args[0], den);
               Value v = arith::MulFOp::create(nb, l, s, args[1]);
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}
