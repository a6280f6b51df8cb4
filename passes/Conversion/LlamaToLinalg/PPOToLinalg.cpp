//===- PPOToLinalg.cpp - PPO's ops to linalg
//-------------------------------===//
//
// The log-probability of each sampled token and the entropy under
// softmax(logits / T), read off each row's max and sum of exponentials (no
// [..., V] log-softmax is stored); PPO's clipped policy and value losses
// with their statistics; and their gradients. Positions: [N, T] (any shape,
// one for every operand of a loss); sums over positions in f64.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Conversion/LlamaToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llama;
using namespace mlir::llama::lowering;

namespace {

/// 1 / temperature, the scale of the logits.
Value inverse(OpBuilder &b, Location loc, Value temperature) {
  return arith::DivFOp::create(b, loc, floatConstant(b, loc, b.getF32Type(), 1),
                               temperature);
}

/// The shape of the rows of `logits` [..., V], as f32.
RankedTensorType rowType(Value logits) {
  auto type = cast<RankedTensorType>(logits.getType());
  return RankedTensorType::get(type.getShape().drop_back(),
                               Float32Type::get(type.getContext()));
}

/// lp = logits[..., token] / T - max - log(sumExp) per row.
struct TokenLogprobsLowering : OpConversionPattern<TokenLogprobsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TokenLogprobsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    Value logits = adaptor.getLogits();
    Value scale = inverse(b, loc, adaptor.getTemperature());
    auto [rowMax, sumExp] = softmaxStatistics(b, loc, logits, scale); // [...]
    unsigned rows = rowType(logits).getRank();
    Value logprobs = elementwise(
        b, loc, ValueRange{adaptor.getTokens(), rowMax, sumExp},
        op.getResult().getType(), [&](OpBuilder &nb, Location l, ValueRange a) {
          SmallVector<Value> indices = loopIndices(nb, l, rows);
          indices.push_back(
              arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]));
          Value z = scaledF32(
              nb, l, tensor::ExtractOp::create(nb, l, logits, indices), scale);
          Value shifted = arith::SubFOp::create(nb, l, z, a[1]);
          yield(nb, l,
                arith::SubFOp::create(nb, l, shifted,
                                      math::LogOp::create(nb, l, a[2])));
        });
    rewriter.replaceOp(op, logprobs);
    return success();
  }
};

/// H = log(sumExp) - sum(exp(z - max) * (z - max)) / sumExp per row, the
/// weighted sum in f64.
struct TokenEntropyLowering : OpConversionPattern<TokenEntropyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TokenEntropyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type(), f64 = b.getF64Type();
    Value logits = adaptor.getLogits();
    Value scale = inverse(b, loc, adaptor.getTemperature());
    auto [rowMax, sumExp] = softmaxStatistics(b, loc, logits, scale); // [...]
    unsigned rank = cast<RankedTensorType>(logits.getType()).getRank();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, logits);
    sizes.pop_back();
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    AffineMap rowMap = dimsMap(ctx, rank, 0, rank - 1);
    SmallVector<IteratorType> reduceLast(rank - 1, IteratorType::parallel);
    reduceLast.push_back(IteratorType::reduction);
    Value weighted = generic(
        b, loc, ValueRange{logits, rowMax},
        filledTensor(b, loc, sizes, f64, 0.0), {identity, rowMap, rowMap},
        reduceLast, [&](OpBuilder &nb, Location l, ValueRange a) {
          Value shifted =
              arith::SubFOp::create(nb, l, scaledF32(nb, l, a[0], scale), a[1]);
          Value term = arith::MulFOp::create(
              nb, l, math::ExpOp::create(nb, l, shifted), shifted);
          yield(nb, l,
                reassociableAdd(nb, l, a[2], castFloat(nb, l, term, f64)));
        }); // [...] f64
    Value entropy = elementwise(
        b, loc, ValueRange{sumExp, weighted}, op.getResult().getType(),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value mean =
              arith::DivFOp::create(nb, l, castFloat(nb, l, a[1], f32), a[0]);
          yield(nb, l,
                arith::SubFOp::create(nb, l, math::LogOp::create(nb, l, a[0]),
                                      mean));
        });
    rewriter.replaceOp(op, entropy);
    return success();
  }
};

/// dlogits = dy / T * (onehot(token) - softmax(logits / T))
struct TokenLogprobsGradLowering : OpConversionPattern<TokenLogprobsGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TokenLogprobsGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    Value scale = inverse(b, loc, adaptor.getTemperature());
    // Per row: -dy / T, the weight of softmax - onehot.
    Value rowWeight = elementwise(
        b, loc, adaptor.getDy(), op.getDy().getType(),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          yield(nb, l,
                arith::NegFOp::create(
                    nb, l, arith::MulFOp::create(nb, l, a[0], scale)));
        });
    rewriter.replaceOp(
        op, weightedSoftmaxMinusOnehot(b, loc, adaptor.getLogits(),
                                       adaptor.getTokens(), rowWeight, scale));
    return success();
  }
};

/// The elementwise pieces of both PPO losses, per position (f32 block
/// arguments in the order the loss op takes its tensors).
struct Branches {
  Value unclipped, clipped; // the loss of each branch; the max is taken
  Value slope;              // d unclipped / d (logprob or value)
};

/// Policy: r = exp(lp - old), unclipped -A r, clipped -A clamp(r, 1 ± clip).
Branches policyBranches(OpBuilder &b, Location l, ValueRange a, Value clip) {
  Type f32 = b.getF32Type();
  Value one = floatConstant(b, l, f32, 1.0);
  Value ratio =
      math::ExpOp::create(b, l, arith::SubFOp::create(b, l, a[0], a[1]));
  Value bounded = arith::MinimumFOp::create(
      b, l,
      arith::MaximumFOp::create(b, l, ratio,
                                arith::SubFOp::create(b, l, one, clip)),
      arith::AddFOp::create(b, l, one, clip));
  Value negAdvantage = arith::NegFOp::create(b, l, a[2]);
  Value unclipped = arith::MulFOp::create(b, l, negAdvantage, ratio);
  return {unclipped, arith::MulFOp::create(b, l, negAdvantage, bounded),
          unclipped};
}

/// Value: squared errors of v and of old + clamp(v - old, ±clip), both
/// halved; the unclipped slope is v - R.
Branches valueBranches(OpBuilder &b, Location l, ValueRange a, Value clip) {
  Value half = floatConstant(b, l, b.getF32Type(), 0.5);
  Value change = arith::SubFOp::create(b, l, a[0], a[1]);
  Value bounded = arith::MinimumFOp::create(
      b, l,
      arith::MaximumFOp::create(b, l, change,
                                arith::NegFOp::create(b, l, clip)),
      clip);
  Value clippedValue = arith::AddFOp::create(b, l, a[1], bounded);
  auto halfSquare = [&](Value x) {
    Value error = arith::SubFOp::create(b, l, x, a[2]);
    return arith::MulFOp::create(b, l, half,
                                 arith::MulFOp::create(b, l, error, error));
  };
  return {halfSquare(a[0]), halfSquare(clippedValue),
          arith::SubFOp::create(b, l, a[0], a[2])};
}

using BranchFn = Branches (*)(OpBuilder &, Location, ValueRange, Value);

/// A masked mean over positions: sum(mask * term) / count as a 0-d f32
/// tensor, given the masked terms and count = sum(mask) (0-d f64), the sum
/// in f64.
Value maskedMean(OpBuilder &b, Location loc, Value terms, Value count) {
  Value sum = totalSumF64(b, loc, terms, /*squares=*/false);
  AffineMap scalar = AffineMap::get(0, 0, {}, b.getContext());
  return generic(b, loc, ValueRange{sum, count},
                 emptyTensor(b, loc, {}, b.getF32Type()),
                 {scalar, scalar, scalar}, {},
                 [&](OpBuilder &nb, Location l, ValueRange a) {
                   Value mean = arith::DivFOp::create(nb, l, a[0], a[1]);
                   yield(nb, l, castFloat(nb, l, mean, nb.getF32Type()));
                 });
}

/// mask * fn(branches of a position) over the loss's four tensors.
Value maskedTerms(
    OpBuilder &b, Location loc, ValueRange tensors, Value clip,
    BranchFn branches,
    function_ref<Value(OpBuilder &, Location, const Branches &, ValueRange)>
        fn) {
  return elementwise(
      b, loc, tensors, cast<RankedTensorType>(tensors[0].getType()),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Branches branch = branches(nb, l, a, clip);
        yield(nb, l, arith::MulFOp::create(nb, l, a[3], fn(nb, l, branch, a)));
      });
}

/// 1.0 where the clipped branch is the larger (it is the one taken).
Value clippedIndicator(OpBuilder &b, Location l, const Branches &branch) {
  Type f32 = b.getF32Type();
  Value clipped = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT,
                                        branch.clipped, branch.unclipped);
  return arith::SelectOp::create(b, l, clipped, floatConstant(b, l, f32, 1.0),
                                 floatConstant(b, l, f32, 0.0));
}

/// The loss (the mean of the larger branch) and the fraction of positions
/// where the clipped branch is the larger, with count = sum(mask) (0-d f64).
std::pair<Value, Value> clippedLoss(OpBuilder &b, Location loc,
                                    ValueRange tensors, Value count, Value clip,
                                    BranchFn branches) {
  Value losses = maskedTerms(
      b, loc, tensors, clip, branches,
      [](OpBuilder &nb, Location l, const Branches &branch, ValueRange) {
        return arith::MaximumFOp::create(nb, l, branch.unclipped,
                                         branch.clipped)
            .getResult();
      });
  Value clippedCount =
      maskedTerms(b, loc, tensors, clip, branches,
                  [](OpBuilder &nb, Location l, const Branches &branch,
                     ValueRange) { return clippedIndicator(nb, l, branch); });
  return {maskedMean(b, loc, losses, count),
          maskedMean(b, loc, clippedCount, count)};
}

/// d loss = dloss * mask / sum(mask) * slope where the unclipped branch is
/// the larger (or equal), else 0: the clamp is flat where it wins.
Value clippedLossGradient(OpBuilder &b, Location loc, ValueRange tensors,
                          Value clip, Value dloss, BranchFn branches) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto type = cast<RankedTensorType>(tensors[0].getType());
  unsigned rank = type.getRank();
  Value count = totalSum(b, loc, tensors[3]);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, ctx);
  SmallVector<Value> inputs(tensors);
  inputs.append({count, dloss});
  return generic(
      b, loc, inputs,
      emptyTensor(b, loc, tensor::getMixedSizes(b, loc, tensors[0]), f32),
      {identity, identity, identity, identity, scalar, scalar, identity},
      SmallVector<IteratorType>(rank, IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Branches branch = branches(nb, l, a, clip);
        Value unclippedWins = arith::CmpFOp::create(
            nb, l, arith::CmpFPredicate::OGE, branch.unclipped, branch.clipped);
        Value slope = arith::SelectOp::create(
            nb, l, unclippedWins, branch.slope, floatConstant(nb, l, f32, 0.0));
        Value weight = arith::DivFOp::create(
            nb, l, arith::MulFOp::create(nb, l, a[3], a[5]), a[4]);
        yield(nb, l, arith::MulFOp::create(nb, l, weight, slope));
      });
}

struct PPOPolicyLossLowering : OpConversionPattern<PPOPolicyLossOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PPOPolicyLossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    SmallVector<Value> tensors = {adaptor.getLogprobs(),
                                  adaptor.getOldLogprobs(),
                                  adaptor.getAdvantages(), adaptor.getMask()};
    Value count = totalSumF64(b, loc, adaptor.getMask(), /*squares=*/false);
    auto [loss, clipFraction] =
        clippedLoss(b, loc, tensors, count, adaptor.getClip(), policyBranches);
    // approx_kl = mean(mask * (lp - old)^2) / 2
    Value squares = elementwise(
        b, loc,
        ValueRange{adaptor.getLogprobs(), adaptor.getOldLogprobs(),
                   adaptor.getMask()},
        op.getLogprobs().getType(),
        [](OpBuilder &nb, Location l, ValueRange a) {
          Value diff = arith::SubFOp::create(nb, l, a[0], a[1]);
          Value half = floatConstant(nb, l, nb.getF32Type(), 0.5);
          Value square = arith::MulFOp::create(
              nb, l, half, arith::MulFOp::create(nb, l, diff, diff));
          yield(nb, l, arith::MulFOp::create(nb, l, a[2], square));
        });
    rewriter.replaceOp(
        op, {loss, clipFraction, maskedMean(b, loc, squares, count)});
    return success();
  }
};

struct PPOValueLossLowering : OpConversionPattern<PPOValueLossOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PPOValueLossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> tensors = {adaptor.getValues(), adaptor.getOldValues(),
                                  adaptor.getReturns(), adaptor.getMask()};
    Value count = totalSumF64(rewriter, op.getLoc(), adaptor.getMask(),
                              /*squares=*/false);
    auto [loss, clipFraction] =
        clippedLoss(rewriter, op.getLoc(), tensors, count, adaptor.getClip(),
                    valueBranches);
    rewriter.replaceOp(op, {loss, clipFraction});
    return success();
  }
};

struct PPOPolicyLossGradLowering : OpConversionPattern<PPOPolicyLossGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PPOPolicyLossGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> tensors = {adaptor.getLogprobs(),
                                  adaptor.getOldLogprobs(),
                                  adaptor.getAdvantages(), adaptor.getMask()};
    rewriter.replaceOp(op,
                       clippedLossGradient(rewriter, op.getLoc(), tensors,
                                           adaptor.getClip(),
                                           adaptor.getDloss(), policyBranches));
    return success();
  }
};

struct PPOValueLossGradLowering : OpConversionPattern<PPOValueLossGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PPOValueLossGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<Value> tensors = {adaptor.getValues(), adaptor.getOldValues(),
                                  adaptor.getReturns(), adaptor.getMask()};
    rewriter.replaceOp(op,
                       clippedLossGradient(rewriter, op.getLoc(), tensors,
                                           adaptor.getClip(),
                                           adaptor.getDloss(), valueBranches));
    return success();
  }
};

} // namespace

void mlir::llama::populatePPOLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<TokenLogprobsLowering, TokenEntropyLowering,
               TokenLogprobsGradLowering, PPOPolicyLossLowering,
               PPOValueLossLowering, PPOPolicyLossGradLowering,
               PPOValueLossGradLowering>(patterns.getContext());
}
