//===- GradientsToLinalg.cpp - llama gradient ops to linalg ---------------===//
//
// Reverse-mode rules of the llama ops as linalg on tensors, in f32, matching
// what torch autograd computes for HF LlamaForCausalLM.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Conversion/LlamaToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llama;
using namespace mlir::llama::lowering;

namespace {

constexpr IteratorType P = IteratorType::parallel;
constexpr IteratorType R = IteratorType::reduction;

SmallVector<IteratorType> iterators(unsigned parallel, unsigned reduction) {
  SmallVector<IteratorType> all(parallel, P);
  all.append(reduction, R);
  return all;
}

/// dtable[v, :] = sum of dy[i, :] over positions with tokens[i] = v: a loop
/// of row updates (a scatter), not a [vocab x tokens] contraction.
struct EmbeddingGradLowering : OpConversionPattern<EmbeddingGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    RankedTensorType tableType = op.getType();
    auto tokensType = op.getTokens().getType();
    if (!tableType.hasStaticShape() || !tokensType.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "needs static shapes");
    int64_t count = tokensType.getNumElements();
    int64_t dim = tableType.getDimSize(1);
    Type elementType = tableType.getElementType();
    // Flatten: tokens [N], dy [N, dim].
    ReassociationIndices all;
    for (int64_t i = 0; i < tokensType.getRank(); ++i)
      all.push_back(i);
    Value tokens = adaptor.getTokens(), dy = adaptor.getDy();
    if (tokensType.getRank() != 1) {
      tokens = tensor::CollapseShapeOp::create(
          b, loc, RankedTensorType::get({count}, tokensType.getElementType()),
          tokens, ArrayRef<ReassociationIndices>{all});
      ReassociationIndices lastDim = {int64_t(tokensType.getRank())};
      dy = tensor::CollapseShapeOp::create(
          b, loc, RankedTensorType::get({count, dim}, elementType), dy,
          ArrayRef<ReassociationIndices>{all, lastDim});
    }
    Value init = filledTensor(
        b, loc, {b.getIndexAttr(tableType.getDimSize(0)), b.getIndexAttr(dim)},
        elementType, 0.0);
    auto rowType = RankedTensorType::get({1, dim}, elementType);
    SmallVector<OpFoldResult> rowSizes = {b.getIndexAttr(1),
                                          b.getIndexAttr(dim)};
    SmallVector<OpFoldResult> unit = {b.getIndexAttr(1), b.getIndexAttr(1)};
    auto loop = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, count),
        indexConstant(b, loc, 1), ValueRange{init},
        [&](OpBuilder &nb, Location l, Value i, ValueRange acc) {
          Value id = tensor::ExtractOp::create(nb, l, tokens, i);
          Value row = arith::IndexCastOp::create(nb, l, nb.getIndexType(), id);
          SmallVector<OpFoldResult> at = {row, nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> from = {i, nb.getIndexAttr(0)};
          Value current = tensor::ExtractSliceOp::create(nb, l, rowType, acc[0],
                                                         at, rowSizes, unit);
          Value update = tensor::ExtractSliceOp::create(nb, l, rowType, dy,
                                                        from, rowSizes, unit);
          // Accumulate into the row in place: current += update.
          AffineMap identity = nb.getMultiDimIdentityMap(2);
          Value sum = generic(
              nb, l, update, current, {identity, identity},
              {IteratorType::parallel, IteratorType::parallel},
              [&](OpBuilder &bb, Location ll, ValueRange args) {
                yield(bb, ll, arith::AddFOp::create(bb, ll, args[1], args[0]));
              });
          Value next = tensor::InsertSliceOp::create(nb, l, sum, acc[0], at,
                                                     rowSizes, unit);
          scf::YieldOp::create(nb, l, next);
        });
    rewriter.replaceOp(op, loop.getResult(0));
    return success();
  }
};

/// r = rsqrt(mean(x²) + eps), g = dy * w:
///   dx = r * g - x * r³ * sum(g * x) / dim,  dw = sum over rows(dy * x * r)
struct RMSNormGradLowering : OpConversionPattern<RMSNormGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    MLIRContext *ctx = b.getContext();
    RankedTensorType type = op.getInput().getType();
    unsigned rank = type.getRank();
    int64_t dim = type.getDimSize(rank - 1);
    if (ShapedType::isDynamic(dim))
      return rewriter.notifyMatchFailure(op, "needs a static hidden size");
    Type f32 = b.getF32Type();
    Value x = adaptor.getInput(), w = adaptor.getWeight(), dy = adaptor.getDy();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    AffineMap rowMap = dimsMap(ctx, rank, 0, rank - 1);
    AffineMap lastMap = dimsMap(ctx, rank, rank - 1, 1);
    double eps = op.getEps().convertToDouble();

    Value sumSquares = generic(
        b, loc, x, filledTensor(b, loc, rowSizes, f32, 0.0), {identity, rowMap},
        iterators(rank - 1, 1), [&](OpBuilder &nb, Location l, ValueRange a) {
          yield(nb, l,
                arith::AddFOp::create(
                    nb, l, a[1], arith::MulFOp::create(nb, l, a[0], a[0])));
        });
    AffineMap rowIdentity = b.getMultiDimIdentityMap(rank - 1);
    Value inv =
        generic(b, loc, sumSquares, emptyTensor(b, loc, rowSizes, f32),
                {rowIdentity, rowIdentity}, iterators(rank - 1, 0),
                [&](OpBuilder &nb, Location l, ValueRange a) {
                  Value mean = arith::DivFOp::create(
                      nb, l, a[0], floatConstant(nb, l, f32, dim));
                  yield(nb, l,
                        math::RsqrtOp::create(
                            nb, l,
                            arith::AddFOp::create(
                                nb, l, mean, floatConstant(nb, l, f32, eps))));
                }); // r [...]
    Value dot = generic(
        b, loc, ValueRange{dy, w, x}, filledTensor(b, loc, rowSizes, f32, 0.0),
        {identity, lastMap, identity, rowMap}, iterators(rank - 1, 1),
        [&](OpBuilder &nb, Location l, ValueRange a) {
          Value g = arith::MulFOp::create(nb, l, a[0], a[1]);
          yield(nb, l,
                arith::AddFOp::create(nb, l, a[3],
                                      arith::MulFOp::create(nb, l, g, a[2])));
        }); // sum(g * x) [...]
    Value dx = generic(
        b, loc, ValueRange{dy, w, x, inv, dot},
        emptyTensor(b, loc, sizes, type.getElementType()),
        {identity, lastMap, identity, rowMap, rowMap, identity},
        iterators(rank, 0), [&](OpBuilder &nb, Location l, ValueRange a) {
          Value r = a[3];
          Value g = arith::MulFOp::create(nb, l, a[0], a[1]);
          Value r3 = arith::MulFOp::create(
              nb, l, arith::MulFOp::create(nb, l, r, r), r);
          Value correction = arith::MulFOp::create(
              nb, l, arith::MulFOp::create(nb, l, a[2], r3),
              arith::DivFOp::create(nb, l, a[4],
                                    floatConstant(nb, l, f32, dim)));
          yield(nb, l,
                arith::SubFOp::create(nb, l, arith::MulFOp::create(nb, l, r, g),
                                      correction));
        });
    // dw[d] = sum over rows of dy * x * r: loops (d, rows..).
    SmallVector<unsigned> rowsThenD;
    for (unsigned i = 1; i < rank; ++i)
      rowsThenD.push_back(i);
    rowsThenD.push_back(0);
    SmallVector<unsigned> rowsOnly(rowsThenD.begin(), rowsThenD.end() - 1);
    Value dw = generic(
        b, loc, ValueRange{dy, x, inv},
        filledTensor(b, loc, {b.getIndexAttr(dim)},
                     op.getWeight().getType().getElementType(), 0.0),
        {selectMap(ctx, rank, rowsThenD), selectMap(ctx, rank, rowsThenD),
         selectMap(ctx, rank, rowsOnly), selectMap(ctx, rank, {0})},
        iterators(1, rank - 1), [&](OpBuilder &nb, Location l, ValueRange a) {
          Value t = arith::MulFOp::create(
              nb, l, arith::MulFOp::create(nb, l, a[0], a[1]), a[2]);
          yield(nb, l, arith::AddFOp::create(nb, l, a[3], t));
        });
    rewriter.replaceOp(op, {dx, dw});
    return success();
  }
};

/// dx[.., k] = sum_n dy[.., n] w[n, k];  dw[n, k] = sum_.. dy[.., n] x[.., k]
struct LinearGradLowering : OpConversionPattern<LinearGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    MLIRContext *ctx = b.getContext();
    unsigned rank = op.getInput().getType().getRank();
    unsigned lead = rank - 1;
    Value x = adaptor.getInput(), w = adaptor.getWeight(), dy = adaptor.getDy();
    Type xType = op.getInput().getType().getElementType();
    Type wType = op.getWeight().getType().getElementType();

    // dx: loops (lead.., k, n).
    SmallVector<unsigned> leadDims;
    for (unsigned i = 0; i < lead; ++i)
      leadDims.push_back(i);
    auto with = [](SmallVector<unsigned> dims, ArrayRef<unsigned> tail) {
      dims.append(tail.begin(), tail.end());
      return dims;
    };
    Value dx = generic(
        b, loc, ValueRange{dy, w},
        filledTensor(b, loc, tensor::getMixedSizes(b, loc, x), xType, 0.0),
        {selectMap(ctx, rank + 1, with(leadDims, {lead + 1})),
         selectMap(ctx, rank + 1, {lead + 1, lead}),
         selectMap(ctx, rank + 1, with(leadDims, {lead}))},
        iterators(rank, 1), multiplyAccumulate);
    // dw: loops (n, k, lead..).
    SmallVector<unsigned> leadAfter;
    for (unsigned i = 0; i < lead; ++i)
      leadAfter.push_back(2 + i);
    Value dw = generic(
        b, loc, ValueRange{dy, x},
        filledTensor(b, loc, tensor::getMixedSizes(b, loc, w), wType, 0.0),
        {selectMap(ctx, rank + 1, with(leadAfter, {0})),
         selectMap(ctx, rank + 1, with(leadAfter, {1})),
         selectMap(ctx, rank + 1, {0, 1})},
        iterators(2, lead), multiplyAccumulate);
    rewriter.replaceOp(op, {dx, dw});
    return success();
  }
};

/// With P the probabilities and dS = P * (dP - rowsum(dP * P)) * scale:
///   dv = Pᵀ dy,  dq = dS k,  dk = dSᵀ q  (k/v gradients summed over groups),
/// in one fused loop nest per (batch, kv head) (causalAttentionGrad).
struct AttentionGradLowering : FusedLoopLowering<AttentionGradOp> {
  using FusedLoopLowering::FusedLoopLowering;
  LogicalResult
  matchAndRewrite(AttentionGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    RankedTensorType queryType = op.getQuery().getType();
    unsigned rank = queryType.getRank();
    int64_t numKvHeads = op.getKey().getType().getDimSize(rank - 2);
    if (ShapedType::isDynamic(queryType.getDimSize(rank - 2)) ||
        ShapedType::isDynamic(numKvHeads))
      return rewriter.notifyMatchFailure(op, "needs static head counts");
    auto [dq, dk, dv] = causalAttentionGrad(
        b, loc, rank - 3, groupHeads(b, loc, adaptor.getQuery(), numKvHeads),
        adaptor.getKey(), adaptor.getValue(),
        groupHeads(b, loc, adaptor.getDy(), numKvHeads),
        op.getScale().convertToDouble(), policy);
    rewriter.replaceOp(op, {ungroupHeads(b, loc, dq, queryType), dk, dv});
    return success();
  }
};

/// s = sigmoid(gate): dup = dy * gate * s,
/// dgate = dy * up * s * (1 + gate * (1 - s))
struct SwiGLUGradLowering : OpConversionPattern<SwiGLUGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SwiGLUGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getDgate().getType();
    Type elementType = type.getElementType();
    SmallVector<Value> inputs = {adaptor.getGate(), adaptor.getUp(),
                                 adaptor.getDy()};
    Value dgate = elementwise(
        rewriter, loc, inputs, type,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value s = sigmoid(b, l, a[0]);
          Value one = floatConstant(b, l, elementType, 1.0);
          Value slope = arith::MulFOp::create(
              b, l, s,
              arith::AddFOp::create(
                  b, l, one,
                  arith::MulFOp::create(b, l, a[0],
                                        arith::SubFOp::create(b, l, one, s))));
          yield(b, l,
                arith::MulFOp::create(
                    b, l, arith::MulFOp::create(b, l, a[2], a[1]), slope));
        });
    Value dup = elementwise(
        rewriter, loc, inputs, type,
        [&](OpBuilder &b, Location l, ValueRange a) {
          Value silu = arith::MulFOp::create(b, l, a[0], sigmoid(b, l, a[0]));
          yield(b, l, arith::MulFOp::create(b, l, a[2], silu));
        });
    rewriter.replaceOp(op, {dgate, dup});
    return success();
  }
};

/// dlogits = dloss * mask / sum(mask) * (softmax(logits) - onehot(target))
struct CrossEntropyGradLowering : OpConversionPattern<CrossEntropyGradOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyGradOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    Type f32 = b.getF32Type();
    Value mask = adaptor.getMask();
    auto maskType = cast<RankedTensorType>(mask.getType());
    unsigned rank = maskType.getRank();
    // Per row: dloss * mask / sum(mask).
    Value maskSum = totalSum(b, loc, mask);
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    AffineMap scalarMap = AffineMap::get(rank, 0, {}, b.getContext());
    Value rowWeight =
        generic(b, loc, ValueRange{mask, maskSum, adaptor.getDloss()},
                emptyTensor(b, loc, tensor::getMixedSizes(b, loc, mask), f32),
                {identity, scalarMap, scalarMap, identity}, iterators(rank, 0),
                [&](OpBuilder &nb, Location l, ValueRange a) {
                  Value weighted = arith::MulFOp::create(
                      nb, l, castFloat(nb, l, a[0], f32), a[2]);
                  yield(nb, l, arith::DivFOp::create(nb, l, weighted, a[1]));
                }); // [...]
    rewriter.replaceOp(
        op, weightedSoftmaxMinusOnehot(b, loc, adaptor.getLogits(),
                                       adaptor.getTargets(), rowWeight));
    return success();
  }
};

} // namespace

void mlir::llama::populateGradientLoweringPatterns(
    RewritePatternSet &patterns, lowering::ParallelPolicy policy) {
  patterns.add<EmbeddingGradLowering, RMSNormGradLowering, LinearGradLowering,
               RotationLowering<RoPEGradOp, /*Inverse=*/true>,
               SwiGLUGradLowering, CrossEntropyGradLowering>(
      patterns.getContext());
  patterns.add<AttentionGradLowering>(patterns.getContext(), policy);
}
