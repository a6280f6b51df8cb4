//===- Patterns.h - llama to linalg pattern sets ----------------*- C++ -*-===//
#ifndef LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_PATTERNS_H
#define LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_PATTERNS_H

#include "passes/Conversion/LlamaToLinalg/Builders.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir::llama {

/// llama.rope and llama.rope_grad: operand 0 rotated at operand 1's
/// positions, by the angles or (Inverse, the transpose) their opposites.
template <typename OpTy, bool Inverse>
struct RotationLowering : OpConversionPattern<OpTy> {
  using OpConversionPattern<OpTy>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpTy op, typename OpTy::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (ShapedType::isDynamic(op.getType().getShape().back()))
      return rewriter.notifyMatchFailure(op, "needs a static head_dim");
    rewriter.replaceOp(
        op, lowering::rotate(rewriter, op.getLoc(), adaptor.getOperands()[0],
                             adaptor.getPositions(),
                             op.getTheta().convertToDouble(), Inverse));
    return success();
  }
};

/// A lowering that emits a fused loop nest, and when that nest is a parallel
/// loop.
template <typename OpTy> struct FusedLoopLowering : OpConversionPattern<OpTy> {
  FusedLoopLowering(MLIRContext *ctx, lowering::ParallelPolicy policy)
      : OpConversionPattern<OpTy>(ctx), policy(policy) {}
  lowering::ParallelPolicy policy;
};

/// The lowerings of projections and swiglu_projection, Projections.cpp.
void populateProjectionLoweringPatterns(RewritePatternSet &patterns,
                                        lowering::ParallelPolicy policy);

/// The lowerings of the gradient ops (llama.*_grad), GradientsToLinalg.cpp.
void populateGradientLoweringPatterns(RewritePatternSet &patterns,
                                      lowering::ParallelPolicy policy);

/// The lowerings of gather_rows, ranking_loss and their gradients,
/// RewardToLinalg.cpp.
void populateRewardLoweringPatterns(RewritePatternSet &patterns);

/// The lowerings of token_logprobs, token_entropy, the PPO losses and their
/// gradients, PPOToLinalg.cpp.
void populatePPOLoweringPatterns(RewritePatternSet &patterns);

/// The lowerings of global_norm and adamw, OptimizerToLinalg.cpp.
void populateOptimizerLoweringPatterns(RewritePatternSet &patterns);

} // namespace mlir::llama

#endif // LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_PATTERNS_H
