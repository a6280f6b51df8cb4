//===- RewardToLinalg.cpp - the reward model's ops to linalg --------------===//
//
// gather_rows (the score head reads each sequence's last real token), the
// ranking loss of preference pairs, and their gradients, as linalg on tensors
// in f32. Shapes: N sequences of T positions, D the model dimension, P pairs
// (rewards [2P]: the chosen responses', then the rejected ones').
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Conversion/LlamaToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llama;
using namespace mlir::llama::lowering;

namespace {

/// rows[n, d] = input[n, index[n], d]
struct GatherRowsLowering : OpConversionPattern<GatherRowsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherRowsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    Value input = adaptor.getInput();
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(b, loc, adaptor.getIndex(), 0),
        tensor::getMixedSize(b, loc, input, 2)};
    Type elementType = op.getType().getElementType();
    MLIRContext *ctx = b.getContext();
    Value rows = generic(
        b, loc, adaptor.getIndex(), emptyTensor(b, loc, sizes, elementType),
        {selectMap(ctx, 2, {0}), b.getMultiDimIdentityMap(2)},
        {IteratorType::parallel, IteratorType::parallel},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          SmallVector<Value> at = loopIndices(nb, l, 2);
          Value position =
              arith::IndexCastOp::create(nb, l, nb.getIndexType(), args[0]);
          yield(nb, l,
                tensor::ExtractOp::create(nb, l, input,
                                          {at[0], position, at[1]}));
        });
    rewriter.replaceOp(op, rows);
    return success();
  }
};

/// dinput[n, t, d] = dy[n, d] if t == index[n] else 0
struct GatherRowsGradLowering : OpConversionPattern<GatherRowsGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherRowsGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    RankedTensorType type = op.getType();
    if (!type.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs a static input shape");
    SmallVector<OpFoldResult> sizes;
    for (int64_t size : type.getShape())
      sizes.push_back(b.getIndexAttr(size));
    MLIRContext *ctx = b.getContext();
    Value dinput = generic(
        b, loc, ValueRange{adaptor.getIndex(), adaptor.getDy()},
        emptyTensor(b, loc, sizes, type.getElementType()),
        {selectMap(ctx, 3, {0}), selectMap(ctx, 3, {0, 2}),
         b.getMultiDimIdentityMap(3)},
        SmallVector<IteratorType>(3, IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value position =
              arith::IndexCastOp::create(nb, l, nb.getIndexType(), args[0]);
          Value here =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                    loopIndices(nb, l, 2)[1], position);
          Value zero = floatConstant(nb, l, args[1].getType(), 0.0);
          yield(nb, l, arith::SelectOp::create(nb, l, here, args[1], zero));
        });
    rewriter.replaceOp(op, dinput);
    return success();
  }
};

/// The per-pair pieces both ranking-loss lowerings share: the chosen and
/// rejected halves of the rewards, and a [P] generic over (chosen, rejected,
/// margin[, the 0-d loss cotangent]).
class Pairs {
public:
  Pairs(OpBuilder &b, Location loc, Value rewards, Value margins)
      : b(b), loc(loc), margins(margins) {
    count = tensor::getMixedSize(b, loc, margins, 0);
    chosen = half(rewards, b.getIndexAttr(0));
    rejected = half(rewards, count);
  }

  /// out[p] = body(r_chosen, r_rejected, margin[, dloss]) per pair.
  Value map(Value dloss, BodyBuilder body) {
    MLIRContext *ctx = b.getContext();
    AffineMap pair = b.getMultiDimIdentityMap(1);
    SmallVector<Value> inputs = {chosen, rejected, margins};
    SmallVector<AffineMap> maps(3, pair);
    if (dloss) {
      inputs.push_back(dloss);
      maps.push_back(AffineMap::get(1, 0, {}, ctx));
    }
    maps.push_back(pair);
    return generic(b, loc, inputs, emptyTensor(b, loc, {count}, b.getF32Type()),
                   maps, {IteratorType::parallel}, body);
  }

  /// The number of pairs as an f32 scalar inside a body.
  Value countAsFloat(OpBuilder &nb, Location l) const {
    Value n = getValueOrCreateConstantIndexOp(nb, l, count);
    Value i64 = arith::IndexCastOp::create(nb, l, nb.getI64Type(), n);
    return arith::SIToFPOp::create(nb, l, nb.getF32Type(), i64);
  }

  OpFoldResult count; // P
  Value chosen, rejected;

private:
  Value half(Value rewards, OpFoldResult offset) {
    return tensor::ExtractSliceOp::create(
        b, loc, rewards, ArrayRef<OpFoldResult>{offset},
        ArrayRef<OpFoldResult>{count},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
  }

  OpBuilder &b;
  Location loc;
  Value margins;
};

/// d = r_chosen - r_rejected - margin
Value preference(OpBuilder &b, Location l, ValueRange args) {
  Value difference = arith::SubFOp::create(b, l, args[0], args[1]);
  return arith::SubFOp::create(b, l, difference, args[2]);
}

/// center * (r_chosen + r_rejected)^2, with its derivative
/// 2 center (r_chosen + r_rejected) when `derivative`.
Value centering(OpBuilder &b, Location l, ValueRange args, double center,
                bool derivative) {
  Value sum = arith::AddFOp::create(b, l, args[0], args[1]);
  Value factor =
      floatConstant(b, l, sum.getType(), derivative ? 2.0 * center : center);
  Value scaled = arith::MulFOp::create(b, l, factor, sum);
  return derivative ? scaled : arith::MulFOp::create(b, l, scaled, sum);
}

/// loss = sum_p (softplus(-d) + center (r_c + r_r)^2) / P, with
/// softplus(-d) = max(-d, 0) + log1p(exp(-|d|)); the sum in f64.
struct RankingLossLowering : OpConversionPattern<RankingLossOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RankingLossOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    double center = op.getCenter().convertToDouble();
    Pairs pairs(b, loc, adaptor.getRewards(), adaptor.getMargins());
    Value terms = pairs.map({}, [&](OpBuilder &nb, Location l,
                                    ValueRange args) {
      Value d = preference(nb, l, args);
      Value zero = floatConstant(nb, l, d.getType(), 0.0);
      Value negated = arith::NegFOp::create(nb, l, d);
      Value hinge = arith::MaximumFOp::create(nb, l, negated, zero);
      Value magnitude = math::AbsFOp::create(nb, l, d);
      Value tail = math::Log1pOp::create(
          nb, l,
          math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, magnitude)));
      Value term = arith::AddFOp::create(nb, l, hinge, tail);
      if (center != 0.0)
        term = arith::AddFOp::create(nb, l, term,
                                     centering(nb, l, args, center, false));
      yield(nb, l, term);
    }); // [P]
    Value loss = mapScalar(b, loc, totalSum(b, loc, terms), b.getF32Type(),
                           [&](OpBuilder &nb, Location l, Value sum) {
                             return arith::DivFOp::create(
                                 nb, l, sum, pairs.countAsFloat(nb, l));
                           });
    rewriter.replaceOp(op, loss);
    return success();
  }
};

/// drewards = [d chosen (P), d rejected (P)] with s = sigmoid(-d) =
/// 1 / (1 + exp(d)): dloss / P * (-s + c') and dloss / P * (s + c'), c' the
/// centering term's derivative.
struct RankingLossGradLowering : OpConversionPattern<RankingLossGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RankingLossGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    double center = op.getCenter().convertToDouble();
    Pairs pairs(b, loc, adaptor.getRewards(), adaptor.getMargins());
    auto half = [&](bool chosen) {
      return pairs.map(adaptor.getDloss(), [&](OpBuilder &nb, Location l,
                                               ValueRange args) {
        Value one = floatConstant(nb, l, args[0].getType(), 1.0);
        Value s = arith::DivFOp::create(
            nb, l, one,
            arith::AddFOp::create(
                nb, l, one,
                math::ExpOp::create(nb, l, preference(nb, l, args))));
        Value slope = chosen ? arith::NegFOp::create(nb, l, s) : s;
        if (center != 0.0)
          slope = arith::AddFOp::create(nb, l, slope,
                                        centering(nb, l, args, center, true));
        Value perPair =
            arith::DivFOp::create(nb, l, args[3], pairs.countAsFloat(nb, l));
        yield(nb, l, arith::MulFOp::create(nb, l, perPair, slope));
      });
    };
    Value drewards =
        emptyTensor(b, loc, tensor::getMixedSizes(b, loc, adaptor.getRewards()),
                    b.getF32Type());
    OpFoldResult offsets[] = {b.getIndexAttr(0), pairs.count};
    for (auto [chosen, offset] : llvm::zip(std::array{true, false}, offsets))
      drewards = tensor::InsertSliceOp::create(
          b, loc, half(chosen), drewards, ArrayRef<OpFoldResult>{offset},
          ArrayRef<OpFoldResult>{pairs.count},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    rewriter.replaceOp(op, drewards);
    return success();
  }
};

} // namespace

void mlir::llama::populateRewardLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<GatherRowsLowering, GatherRowsGradLowering, RankingLossLowering,
               RankingLossGradLowering>(patterns.getContext());
}
