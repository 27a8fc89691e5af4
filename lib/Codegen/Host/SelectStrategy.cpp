//===- SelectStrategy.cpp - the host strategy table as a pass -------------===//
//
// Writes the strategy table's choice (StrategyTable.cpp) on every op it
// covers, and checks the strategies already written by hand; see Passes.td.
//
//===----------------------------------------------------------------------===//

#include "StrategyTable.h"
#include "dsv3/Passes.h"

namespace mlir::dsv3 {
#define GEN_PASS_DEF_DSV3HOSTSELECTSTRATEGY
#include "dsv3/Passes.h.inc"
} // namespace mlir::dsv3

using namespace mlir;

namespace {
struct Dsv3HostSelectStrategyPass
    : dsv3::impl::Dsv3HostSelectStrategyBase<Dsv3HostSelectStrategyPass> {
  using Base::Base;
  void runOnOperation() override {
    // Hand-written strategies win over the table, once they verify.
    if (failed(dsv3::host::verifyStrategies(getOperation())))
      return signalPassFailure();
    getOperation()->walk([&](Operation *op) {
      if (op->hasAttr(dsv3::host::kStrategyAttr))
        return;
      if (DictionaryAttr s = dsv3::host::selectStrategy(op, boundByKvLen))
        op->setAttr(dsv3::host::kStrategyAttr, s);
    });
  }
};
} // namespace
