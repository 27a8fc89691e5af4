//===- AnnotateInputBounds.cpp - value ranges the runtime checks ----------===//
//
// Some integer inputs are indices: cache positions, expert ids. Inside the
// graph an out-of-range index is masked or skipped so it never becomes an
// address, but that silently computes something other than what the caller
// asked for. When such an operand is an entry argument, this pass records its
// valid range as `{dsv3.bounds = {min, max, why}}`; dsv3-annotate-abi copies
// it into the module metadata and the runtime refuses a call whose input
// leaves the range, before anything runs (so a cache is never half written).
//
//===----------------------------------------------------------------------===//

#include "dsv3/IR/Dsv3Ops.h"
#include "dsv3/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3ANNOTATEINPUTBOUNDS
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;
using namespace mlir::dsv3;

namespace {

/// The closed range [min, max] an argument must lie in, and why.
struct Bounds {
  int64_t min, max;
  std::string why;
};

struct Dsv3AnnotateInputBoundsPass
    : dsv3::impl::Dsv3AnnotateInputBoundsBase<Dsv3AnnotateInputBoundsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    llvm::MapVector<unsigned, Bounds> bounds;
    // Intersects `b` into the bounds of `v` if `v` is an entry argument.
    auto require = [&](Value v, int64_t min, int64_t max, std::string why) {
      auto arg = dyn_cast<BlockArgument>(v);
      if (!arg || arg.getOwner() != &func.getBody().front())
        return;
      auto [it, inserted] =
          bounds.try_emplace(arg.getArgNumber(), Bounds{min, max, why});
      if (inserted)
        return;
      Bounds &b = it->second;
      b.min = std::max(b.min, min);
      b.max = std::min(b.max, max);
      if (b.why.find(why) == std::string::npos)
        b.why += "; " + why;
    };
    auto dim = [](Value v, unsigned d) {
      return cast<RankedTensorType>(v.getType()).getDimSize(d);
    };
    // A call writing S rows from start_pos into a cache of L rows needs
    // 0 <= start_pos <= L - S (docs/semantics.md §10.2); valid lengths are
    // 0 .. L.
    auto cacheWrite = [&](StringRef op, Value start, int64_t s, int64_t l) {
      // A dynamic S has no static bound here: the producer of the entry
      // records it against the token dimension (dsv3.bounds `minus`).
      if (ShapedType::isDynamic(s))
        return;
      require(start, 0, l - s,
              (op + " writes " + Twine(s) +
               " row(s) per sequence from start_pos into a cache of "
               "max_seq_len " +
               Twine(l))
                  .str());
    };
    auto cacheLength = [&](StringRef op, Value len, int64_t l) {
      require(len, 0, l,
              (op + " reads kv_len rows of a cache of max_seq_len " + Twine(l))
                  .str());
    };
    // Expert ids index E experts; -1 is the documented "no expert".
    auto expertIds = [&](StringRef op, Value ids, int64_t e) {
      require(
          ids, -1, e - 1,
          (op + " indexes " + Twine(e) + " routed experts (-1 means no expert)")
              .str());
    };
    func.walk([&](Operation *op) {
      if (auto u = dyn_cast<KVCacheUpdateOp>(op)) {
        cacheWrite("kv_cache_update", u.getStartPos(), dim(u.getNewCKv(), 1),
                   dim(u.getCKv(), 1));
      } else if (auto a = dyn_cast<LatentAttentionOp>(op)) {
        cacheLength("latent_attention", a.getKvLen(), dim(a.getCKv(), 1));
      } else if (auto m = dyn_cast<MLAOp>(op)) {
        cacheWrite("mla", m.getStartPos(), dim(m.getHidden(), 1),
                   dim(m.getCKv(), 1));
        cacheLength("mla", m.getKvLen(), dim(m.getCKv(), 1));
      } else if (auto e = dyn_cast<EmbeddingOp>(op)) {
        int64_t vocab = dim(e.getTable(), 0);
        require(
            e.getIds(), 0, vocab - 1,
            ("embedding indexes a table of " + Twine(vocab) + " tokens").str());
      } else if (auto d = dyn_cast<ExpertDispatchOp>(op)) {
        expertIds("expert_dispatch", d.getIds(), dim(d.getOffsets(), 0) - 1);
      } else if (auto c = dyn_cast<ExpertCombineOp>(op)) {
        expertIds("expert_combine", c.getIds(), dim(c.getOffsets(), 0) - 1);
      } else if (auto u = dyn_cast<ExpertBiasUpdateOp>(op)) {
        expertIds("expert_bias_update", u.getIds(), dim(u.getBias(), 0));
      }
    });
    MLIRContext *ctx = &getContext();
    // Every range contains 0 (verifiers ensure S <= L), so intersections are
    // never empty.
    for (auto &[index, b] : bounds) {
      Builder builder(ctx);
      func.setArgAttr(
          index, "dsv3.bounds",
          builder.getDictionaryAttr(
              {builder.getNamedAttr("min", builder.getI64IntegerAttr(b.min)),
               builder.getNamedAttr("max", builder.getI64IntegerAttr(b.max)),
               builder.getNamedAttr("why", builder.getStringAttr(b.why))}));
    }
  }
};

} // namespace
