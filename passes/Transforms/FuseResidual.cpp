//===- FuseResidual.cpp - residual adds folded into linear layers ---------===//
//
// x + h . W^T as one llama.linear with a residual: once lowered, the
// projection's sum starts from x (the register tiles load it as their
// accumulators), so the add is no longer a separate pass over [rows, dim].
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"
#include "passes/Transforms/Fusion.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFUSERESIDUALPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

/// add(x, linear(h, W)) -> linear(h, W) residual(x), for a linear without a
/// residual whose only user is the add (either operand order).
struct FoldResidualIntoLinear : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AddOp add,
                                PatternRewriter &rewriter) const override {
    for (auto [product, residual] : {std::pair{add.getRhs(), add.getLhs()},
                                     std::pair{add.getLhs(), add.getRhs()}}) {
      auto linear = product.getDefiningOp<LinearOp>();
      if (!linear || linear.getResidual() || !linear->hasOneUse())
        continue;
      // Named (located) after the sum it now computes.
      rewriter.replaceOpWithNewOp<LinearOp>(add, linear.getInput(),
                                            linear.getWeight(), residual);
      rewriter.eraseOp(linear);
      return success();
    }
    return failure();
  }
};

struct FuseResidualPass
    : mlir::llama::impl::LlamaFuseResidualPassBase<FuseResidualPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldResidualIntoLinear>(&getContext());
    if (failed(applyFusionPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
