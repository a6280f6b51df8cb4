//===- FuseSwiGLU.cpp - gate and up projections fused with their SwiGLU ---===//
//
// silu(x . Wg^T) * (x . Wu^T) as one llama.swiglu_projection: once lowered,
// the gate and up products exist one block of columns at a time, in cache,
// and only the gated result is stored.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"
#include "passes/Transforms/Fusion.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFUSESWIGLUPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

/// A linear layer without a residual whose only user is the SwiGLU.
LinearOp projectionOnlyFor(Value value) {
  auto linear = value.getDefiningOp<LinearOp>();
  if (!linear || linear.getResidual() || !linear->hasOneUse())
    return {};
  return linear;
}

/// swiglu(linear(x, Wg), linear(x, Wu)) -> swiglu_projection(x, Wg, Wu).
struct FuseGateAndUp : OpRewritePattern<SwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SwiGLUOp swiglu,
                                PatternRewriter &rewriter) const override {
    LinearOp gate = projectionOnlyFor(swiglu.getGate());
    LinearOp up = projectionOnlyFor(swiglu.getUp());
    if (!gate || !up || gate.getInput() != up.getInput() ||
        gate.getWeight().getType() != up.getWeight().getType())
      return failure();
    rewriter.replaceOpWithNewOp<SwiGLUProjectionOp>(
        swiglu, swiglu.getType(), gate.getInput(), gate.getWeight(),
        up.getWeight());
    rewriter.eraseOp(gate);
    rewriter.eraseOp(up);
    return success();
  }
};

struct FuseSwiGLUPass
    : mlir::llama::impl::LlamaFuseSwiGLUPassBase<FuseSwiGLUPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseGateAndUp>(&getContext());
    if (failed(applyFusionPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
