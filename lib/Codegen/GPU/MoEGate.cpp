//===- MoEGate.cpp - cuda strategy: the MoE router in two kernels ---------===//
//
// The definition of dsv3.moe_gate is a chain of small linalg ops (logits,
// scores, biased keys, group scores, group top-k, mask, expert top-k as
// k rounds of argmax, gather, renormalisation), which the correct-first
// mapping runs as ~20 kernels of one block each, the logits with one thread
// per (token, expert) walking its 7168-long row serially. Here:
//
//  * the logits are a dsv3.linear of the gate weight (f32 sums of widened
//    products, as the definition), which the decode-linear strategy then
//    runs as a GEMV with a warp per expert (or the definition for many
//    tokens);
//  * one kernel with a block per token does the rest in phases: a thread per
//    expert computes its score and biased key; a thread per group its
//    group score; a thread per expert the key it is selected by (-inf in a
//    rejected group); a thread per expert its rank in the total order
//    (key descending, then index ascending) and writes its index at that
//    rank; one thread gathers and scales the first top_k.
//
// Ranking all experts at once (each thread counts the keys that beat its
// own) gives the definition's deterministic ties without k rounds of
// block-wide argmax; NaN keys rank as -inf, so the ranks are always a
// permutation and every id stays in [0, E).
//
//===----------------------------------------------------------------------===//

#include "../Host/KernelBuilders.h"
#include "ForallKernels.h"
#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <limits>

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3GPUMOEGATE
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;
using namespace mlir::dsv3::gpu_kernels;
using host::cIdx;

namespace {

/// Threads per block at most (CUDA's limit); a thread per expert.
constexpr int64_t kMaxExperts = 1024;

/// 1 (index) if `a` ranks before `b` in the order (value descending, then
/// index ascending), else 0. With no NaN this is a strict total order.
Value beats(OpBuilder &b, Location loc, Value va, Value ia, Value vb,
            Value ib) {
  Value gt = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, va, vb);
  Value eq = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, va, vb);
  Value lower =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, ia, ib);
  Value before = arith::OrIOp::create(b, loc, gt,
                                      arith::AndIOp::create(b, loc, eq, lower));
  return arith::SelectOp::create(b, loc, before, cIdx(b, loc, 1),
                                 cIdx(b, loc, 0));
}

struct Gate {
  mutable MoEGateOp op;
  int64_t tokens, experts, topK, groups, keepGroups;
  bool sharedMemory;

  int64_t perGroup() const { return experts / groups; }
  bool masksGroups() const {
    return op.getTopkMethod() != TopkMethod::greedy && keepGroups < groups;
  }

  SmallVector<Value>
  perThread(OpBuilder &b, Location loc, int64_t n, ValueRange inits,
            function_ref<SmallVector<Value>(OpBuilder &, Location, Value)> body)
      const {
    return scalarsPerThread(b, loc, n, inits, body);
  }

  Value buffer(OpBuilder &b, Location loc, int64_t n, Type elem) const {
    return sharedBuffer(b, loc, {n}, elem, sharedMemory);
  }

  /// The block of token t: phases 1-5, writing its rows of `weightsOut`
  /// and `idsOut`.
  SmallVector<Slot> block(OpBuilder &b, Location loc, Value t, Value logits,
                          Value weightsOut, Value idsOut) const {
    Type f32 = b.getF32Type(), idx = b.getIndexType();
    const float negInf = -std::numeric_limits<float>::infinity();
    auto logit = [&](OpBuilder &b, Location loc, Value e) -> Value {
      return tensor::ExtractOp::create(b, loc, logits, ValueRange{t, e});
    };

    // Softmax scoring needs the row's max and Σ exp first (one thread, in
    // expert order; max ignores NaN as the definition's maxnumf does).
    Value rowStats;
    if (op.getScoringFunc() == ScoringFunc::softmax) {
      rowStats = mappedForall(
          b, loc, {1}, {gpu::MappingId::DimX}, /*blocks=*/false,
          {buffer(b, loc, 2, f32)},
          [&](OpBuilder &b, Location loc, ValueRange, ValueRange outs) {
            Value m =
                scf::ForOp::create(
                    b, loc, cIdx(b, loc, 0), cIdx(b, loc, experts),
                    cIdx(b, loc, 1), ValueRange{cF32(b, loc, negInf)},
                    [&](OpBuilder &b, Location loc, Value e, ValueRange it) {
                      scf::YieldOp::create(
                          b, loc,
                          ValueRange{arith::MaxNumFOp::create(
                              b, loc, it[0], logit(b, loc, e))});
                    })
                    .getResult(0);
            Value sum = sumOver(
                b, loc, experts, cF32(b, loc, 0.0f),
                [&](OpBuilder &b, Location loc, Value e) -> Value {
                  return math::ExpOp::create(
                      b, loc,
                      arith::SubFOp::create(b, loc, logit(b, loc, e), m));
                });
            Value c0 = cIdx(b, loc, 0);
            Value stats =
                tensor::InsertOp::create(b, loc, m, outs[0], ValueRange{c0});
            stats = tensor::InsertOp::create(b, loc, sum, stats,
                                             ValueRange{cIdx(b, loc, 1)});
            return SmallVector<Slot>{Slot{stats,
                                          {b.getIndexAttr(0)},
                                          indexAttrs(b, {2}),
                                          indexAttrs(b, {1})}};
          })[0];
    }

    // Phase 1, a thread per expert: its score s and biased key s + bias.
    SmallVector<Value> scored = perThread(
        b, loc, experts,
        {buffer(b, loc, experts, f32), buffer(b, loc, experts, f32)},
        [&](OpBuilder &b, Location loc, Value e) -> SmallVector<Value> {
          Value u = logit(b, loc, e);
          Value s;
          if (rowStats) {
            Value m = tensor::ExtractOp::create(b, loc, rowStats,
                                                ValueRange{cIdx(b, loc, 0)});
            Value sum = tensor::ExtractOp::create(b, loc, rowStats,
                                                  ValueRange{cIdx(b, loc, 1)});
            s = arith::DivFOp::create(
                b, loc,
                math::ExpOp::create(b, loc,
                                    arith::SubFOp::create(b, loc, u, m)),
                sum);
          } else {
            Value ex =
                math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, u));
            s = arith::DivFOp::create(
                b, loc, cF32(b, loc, 1.0f),
                arith::AddFOp::create(b, loc, cF32(b, loc, 1.0f), ex));
          }
          Value key = s;
          if (Value bias = op.getEScoreCorrectionBias())
            key = arith::AddFOp::create(
                b, loc, s, tensor::ExtractOp::create(b, loc, bias, e));
          return {s, key};
        });
    Value scores = scored[0], keys = scored[1];

    // Phase 2, a thread per group: the sum of its two largest keys
    // (noaux_tc) or its largest (group_limited_greedy).
    Value groupScores;
    if (masksGroups()) {
      bool topTwo = op.getTopkMethod() == TopkMethod::noaux_tc;
      groupScores = perThread(
          b, loc, groups, {buffer(b, loc, groups, f32)},
          [&](OpBuilder &b, Location loc, Value g) -> SmallVector<Value> {
            Value first =
                arith::MulIOp::create(b, loc, g, cIdx(b, loc, perGroup()));
            auto loop = scf::ForOp::create(
                b, loc, cIdx(b, loc, 0), cIdx(b, loc, perGroup()),
                cIdx(b, loc, 1),
                ValueRange{cF32(b, loc, negInf), cF32(b, loc, negInf)},
                [&](OpBuilder &b, Location loc, Value j, ValueRange it) {
                  Value v = tensor::ExtractOp::create(
                      b, loc, keys,
                      ValueRange{arith::AddIOp::create(b, loc, first, j)});
                  Value m1 = it[0], m2 = it[1];
                  Value above1 = arith::CmpFOp::create(
                      b, loc, arith::CmpFPredicate::OGT, v, m1);
                  Value above2 = arith::CmpFOp::create(
                      b, loc, arith::CmpFPredicate::OGT, v, m2);
                  Value n1 = arith::SelectOp::create(b, loc, above1, v, m1);
                  Value n2 = arith::SelectOp::create(
                      b, loc, above1, m1,
                      arith::SelectOp::create(b, loc, above2, v, m2));
                  scf::YieldOp::create(b, loc, ValueRange{n1, n2});
                });
            Value g0 = loop.getResult(0);
            if (topTwo)
              g0 = arith::AddFOp::create(b, loc, g0, loop.getResult(1));
            return {g0};
          })[0];
    }

    // Phase 3, a thread per expert: the key it is selected by, -inf in a
    // rejected group (its group ranks at or past topk_group) and for NaN.
    Value selection = perThread(
        b, loc, experts, {buffer(b, loc, experts, f32)},
        [&](OpBuilder &b, Location loc, Value e) -> SmallVector<Value> {
          Value key = tensor::ExtractOp::create(b, loc, keys, e);
          Value isNaN = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNO,
                                              key, key);
          Value ninf = cF32(b, loc, negInf);
          key = arith::SelectOp::create(b, loc, isNaN, ninf, key);
          if (groupScores) {
            Value g =
                arith::DivUIOp::create(b, loc, e, cIdx(b, loc, perGroup()));
            Value mine = tensor::ExtractOp::create(b, loc, groupScores, g);
            Value rank =
                sumOver(b, loc, groups, cIdx(b, loc, 0),
                        [&](OpBuilder &b, Location loc, Value other) -> Value {
                          return beats(b, loc,
                                       tensor::ExtractOp::create(
                                           b, loc, groupScores, other),
                                       other, mine, g);
                        });
            Value kept =
                arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, rank,
                                      cIdx(b, loc, keepGroups));
            key = arith::SelectOp::create(b, loc, kept, key, ninf);
          }
          return {key};
        })[0];

    // Phase 4, a thread per expert: its rank among all experts, and its
    // index written at that rank (the ranks are a permutation).
    Value order = mappedForall(
        b, loc, {experts}, {gpu::MappingId::DimX}, /*blocks=*/false,
        {buffer(b, loc, experts, idx)},
        [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
          Value e = ivs[0];
          Value mine = tensor::ExtractOp::create(b, loc, selection, e);
          Value rank = sumOver(
              b, loc, experts, cIdx(b, loc, 0),
              [&](OpBuilder &b, Location loc, Value other) -> Value {
                return beats(
                    b, loc, tensor::ExtractOp::create(b, loc, selection, other),
                    other, mine, e);
              });
          Slot at{Value(), {rank}, indexAttrs(b, {1}), indexAttrs(b, {1})};
          Value one =
              extractSlot(b, loc, RankedTensorType::get({1}, idx), outs[0], at);
          at.part = tensor::InsertOp::create(b, loc, e, one,
                                             ValueRange{cIdx(b, loc, 0)});
          return SmallVector<Slot>{at};
        })[0];

    // Phase 5, one thread: the unbiased scores of the first top_k, their
    // sum in rank order, w / (Σ + 1e-20) when renormalising, times the
    // factor; written to the token's rows.
    Slot row{Value(),
             {t, b.getIndexAttr(0)},
             indexAttrs(b, {1, topK}),
             indexAttrs(b, {1, 1})};
    Value wRow = extractSlot(b, loc, RankedTensorType::get({1, topK}, f32),
                             weightsOut, row);
    Value idRow = extractSlot(
        b, loc, RankedTensorType::get({1, topK}, b.getI32Type()), idsOut, row);
    float factor = op.getRoutedScalingFactor().convertToFloat();
    bool norm = op.getNormTopkProb();
    SmallVector<Value> rows = mappedForall(
        b, loc, {1}, {gpu::MappingId::DimX}, /*blocks=*/false, {wRow, idRow},
        [&](OpBuilder &b, Location loc, ValueRange, ValueRange outs) {
          Value c0 = cIdx(b, loc, 0);
          auto picked = [&](OpBuilder &b, Location loc, Value j) {
            Value e = tensor::ExtractOp::create(b, loc, order, j);
            return std::make_pair(
                e, tensor::ExtractOp::create(b, loc, scores, e).getResult());
          };
          Value den;
          if (norm)
            den = arith::AddFOp::create(
                b, loc,
                sumOver(b, loc, topK, cF32(b, loc, 0.0f),
                        [&](OpBuilder &b, Location loc, Value j) -> Value {
                          return picked(b, loc, j).second;
                        }),
                cF32(b, loc, 1e-20f));
          Value w = outs[0], ids = outs[1];
          for (int64_t j = 0; j < topK; ++j) {
            auto [e, s] = picked(b, loc, cIdx(b, loc, j));
            if (norm)
              s = arith::DivFOp::create(b, loc, s, den);
            s = arith::MulFOp::create(b, loc, s, cF32(b, loc, factor));
            Value cj = cIdx(b, loc, j);
            w = tensor::InsertOp::create(b, loc, s, w, ValueRange{c0, cj});
            ids = tensor::InsertOp::create(
                b, loc, arith::IndexCastOp::create(b, loc, b.getI32Type(), e),
                ids, ValueRange{c0, cj});
          }
          Slot whole{Value(),
                     {b.getIndexAttr(0), b.getIndexAttr(0)},
                     indexAttrs(b, {1, topK}),
                     indexAttrs(b, {1, 1})};
          Slot wAt = whole, idAt = whole;
          wAt.part = w;
          idAt.part = ids;
          return SmallVector<Slot>{wAt, idAt};
        });
    Slot wAt = row, idAt = row;
    wAt.part = rows[0];
    idAt.part = rows[1];
    return {wAt, idAt};
  }
};

SmallVector<Value> buildMoEGate(OpBuilder &b, Location loc, const Gate &gate) {
  MoEGateOp op = gate.op;
  Type f32 = b.getF32Type();
  // u = f32(x) · f32(W)ᵀ, f32 sums: exactly what dsv3.linear of an
  // unscaled weight computes, so its strategies apply.
  Location linearLoc = host::routerLogitsLoc(loc);
  // Without a weight the input is the logits already.
  Value logits = op.getInput();
  if (op.getWeight())
    logits = LinearOp::create(
        b, linearLoc, RankedTensorType::get({gate.tokens, gate.experts}, f32),
        op.getInput(), op.getWeight(), Value());
  Value weights = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{gate.tokens, gate.topK}, f32);
  Value ids = tensor::EmptyOp::create(
      b, loc, ArrayRef<int64_t>{gate.tokens, gate.topK}, b.getI32Type());
  SmallVector<Value> results = mappedForall(
      b, loc, {gate.tokens}, {gpu::MappingId::DimX}, /*blocks=*/true,
      {weights, ids},
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outs) {
        return gate.block(b, loc, ivs[0], logits, outs[0], outs[1]);
      });
  // The selection reads the logits and the bias once and writes the
  // weights and ids; its arithmetic is not counted.
  auto forall = results[0].getDefiningOp<scf::ForallOp>();
  gpu_kernels::setKernelCost(forall, {gpu_kernels::operandBytes(forall), {}});
  return results;
}

struct Dsv3GPUMoEGate : dsv3::impl::Dsv3GPUMoEGateBase<Dsv3GPUMoEGate> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<Gate> gates;
    getOperation()->walk([&](MoEGateOp op) {
      auto x = op.getInput().getType();
      // [E, H], or the logits [T, E] themselves without a weight.
      auto w =
          op.getWeight() ? cast<RankedTensorType>(op.getWeight().getType()) : x;
      if (!x.hasStaticShape() || !w.hasStaticShape())
        return;
      Gate gate{op,
                x.getDimSize(0),
                w.getDimSize(op.getWeight() ? 0 : 1),
                static_cast<int64_t>(op.getTopK()),
                static_cast<int64_t>(op.getNGroup()),
                static_cast<int64_t>(op.getTopkGroup()),
                sharedMemory};
      // A thread per expert; the token count bounds the blocks (more
      // tokens: a prefill, whose logits are a GEMM the definition runs).
      if (gate.tokens < 1 || gate.tokens > maxTokens ||
          gate.experts > kMaxExperts)
        return;
      gates.push_back(gate);
    });
    IRRewriter rewriter(&getContext());
    for (const Gate &gate : gates) {
      rewriter.setInsertionPoint(gate.op);
      rewriter.replaceOp(gate.op,
                         buildMoEGate(rewriter, gate.op.getLoc(), gate));
    }
  }
};

} // namespace
