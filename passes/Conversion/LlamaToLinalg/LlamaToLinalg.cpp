//===- LlamaToLinalg.cpp - llama ops to linalg on tensors -----------------===//
//
// Each pattern writes one llama op as linalg.generic ops in destination style.
// Shapes follow the op docs; the comments give each tensor's shape with S the
// number of tokens, H heads, Hkv key/value heads, G = H / Hkv query heads per
// key/value head, D head_dim and L = position + S the attended keys.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Conversion/LlamaToLinalg/Patterns.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

namespace mlir::llama {
#define GEN_PASS_DEF_CONVERTLLAMATOLINALGPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;
using namespace mlir::llama::lowering;

namespace {
//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

/// result[..., d] = table[tokens[...], d]
struct EmbeddingLowering : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getType();
    unsigned rank = resultType.getRank();
    Value table = adaptor.getTable();
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, adaptor.getTokens());
    sizes.push_back(tensor::getMixedSize(rewriter, loc, table, 1));
    Value init = emptyTensor(rewriter, loc, sizes, resultType.getElementType());
    MLIRContext *ctx = rewriter.getContext();
    Value result = generic(
        rewriter, loc, adaptor.getTokens(), init,
        {dimsMap(ctx, rank, 0, rank - 1),
         rewriter.getMultiDimIdentityMap(rank)},
        SmallVector<IteratorType>(rank, IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value row =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
          Value col = linalg::IndexOp::create(b, l, rank - 1);
          Value value = tensor::ExtractOp::create(b, l, table, {row, col});
          yield(b, l, castFloat(b, l, value, resultType.getElementType()));
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// sumsq[...] = sum_d x²;  y = x * rsqrt(sumsq / dim + eps) * w   (in f32)
struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    int64_t dim = type.getDimSize(rank - 1);
    if (ShapedType::isDynamic(dim))
      return rewriter.notifyMatchFailure(op, "needs a static hidden size");
    MLIRContext *ctx = rewriter.getContext();
    Type f32 = rewriter.getF32Type();
    Type elementType = type.getElementType();

    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, x);
    SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = dimsMap(ctx, rank, 0, rank - 1);
    SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
    SmallVector<IteratorType> reduceLast = iterators;
    reduceLast.back() = IteratorType::reduction;

    Value sumSquares = generic(
        rewriter, loc, x, filledTensor(rewriter, loc, rowSizes, f32, 0.0),
        {identity, rowMap}, reduceLast,
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value v = castFloat(b, l, args[0], f32);
          Value square = arith::MulFOp::create(b, l, v, v);
          yield(b, l, arith::AddFOp::create(b, l, args[1], square));
        }); // [...]

    double eps = op.getEps().convertToDouble();
    Value result = generic(
        rewriter, loc, ValueRange{x, sumSquares, adaptor.getWeight()},
        emptyTensor(rewriter, loc, sizes, elementType),
        {identity, rowMap, dimsMap(ctx, rank, rank - 1, 1), identity},
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(
              b, l, args[1], floatConstant(b, l, f32, double(dim)));
          Value inv = math::RsqrtOp::create(
              b, l,
              arith::AddFOp::create(b, l, mean, floatConstant(b, l, f32, eps)));
          Value normed =
              arith::MulFOp::create(b, l, castFloat(b, l, args[0], f32), inv);
          Value scaled = arith::MulFOp::create(
              b, l, castFloat(b, l, args[2], f32), normed);
          yield(b, l, castFloat(b, l, scaled, elementType));
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// y[..., n] = residual[..., n] (or 0) + sum_k x[..., k] * w[n, k]
struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, linearProduct(rewriter, op.getLoc(), adaptor.getInput(),
                          adaptor.getWeight(), adaptor.getResidual()));
    return success();
  }
};

/// Causal attention over one batch of sequences (the training path).
struct AttentionLowering : FusedLoopLowering<AttentionOp> {
  using FusedLoopLowering::FusedLoopLowering;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    int64_t numKvHeads = op.getKey().getType().getDimSize(rank - 2);
    if (ShapedType::isDynamic(type.getDimSize(rank - 2)) ||
        ShapedType::isDynamic(numKvHeads))
      return rewriter.notifyMatchFailure(op, "needs static head counts");
    Value query = groupHeads(rewriter, loc, adaptor.getQuery(), numKvHeads);
    Value out = causalAttention(
        rewriter, loc, rank - 3, query, adaptor.getKey(), adaptor.getValue(),
        indexConstant(rewriter, loc, 0), op.getScale().convertToDouble(),
        op.getKey().getType().getDimSize(rank - 3), policy);
    rewriter.replaceOp(op, ungroupHeads(rewriter, loc, out, type));
    return success();
  }
};

/// Writes k/v into the caches at `position`, then attends over cache rows
/// 0 .. position + s for query row s.
struct CachedAttentionLowering : FusedLoopLowering<CachedAttentionOp> {
  using FusedLoopLowering::FusedLoopLowering;
  LogicalResult
  matchAndRewrite(CachedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType queryType = op.getQuery().getType();
    int64_t headDim = queryType.getDimSize(2);
    int64_t numKvHeads = op.getKey().getType().getDimSize(1);
    if (ShapedType::isDynamic(queryType.getDimSize(1)) ||
        ShapedType::isDynamic(headDim) || ShapedType::isDynamic(numKvHeads))
      return rewriter.notifyMatchFailure(op, "needs static head counts");
    auto &b = rewriter;

    Value position = adaptor.getPosition();
    if (!position.getType().isIndex())
      position = arith::IndexCastOp::create(b, loc, b.getIndexType(), position);
    OpFoldResult seq = tensor::getMixedSize(b, loc, adaptor.getQuery(), 0);

    // Write the new rows: cache[position : position + S] = k / v.
    SmallVector<OpFoldResult> rowOffsets = {position, b.getIndexAttr(0),
                                            b.getIndexAttr(0)};
    SmallVector<OpFoldResult> rowSizes = {seq, b.getIndexAttr(numKvHeads),
                                          b.getIndexAttr(headDim)};
    SmallVector<OpFoldResult> unitStrides(3, b.getIndexAttr(1));
    Value keyCache = tensor::InsertSliceOp::create(
        b, loc, adaptor.getKey(), adaptor.getKeyCache(), rowOffsets, rowSizes,
        unitStrides);
    Value valueCache = tensor::InsertSliceOp::create(
        b, loc, adaptor.getValue(), adaptor.getValueCache(), rowOffsets,
        rowSizes, unitStrides);

    // Attend over cache[0 : position + S].
    Value length = arith::AddIOp::create(
        b, loc, position, getValueOrCreateConstantIndexOp(b, loc, seq));
    SmallVector<OpFoldResult> zeroOffsets(3, b.getIndexAttr(0));
    SmallVector<OpFoldResult> prefixSizes = {length, b.getIndexAttr(numKvHeads),
                                             b.getIndexAttr(headDim)};
    Value keys = tensor::ExtractSliceOp::create(b, loc, keyCache, zeroOffsets,
                                                prefixSizes, unitStrides);
    Value values =
        tensor::ExtractSliceOp::create(b, loc, valueCache, zeroOffsets,
                                       prefixSizes, unitStrides); // [L, Hkv, D]
    Value query = groupHeads(b, loc, adaptor.getQuery(), numKvHeads);
    double scale = op.getScale().convertToDouble();
    // A GPU's decode (one row, every key visible): parallel unfused ops.
    Value out =
        policy.always && queryType.getDimSize(0) == 1
            ? decodeAttention(b, loc, query, keys, values, scale)
            : causalAttention(b, loc, /*nb=*/0, query, keys, values, position,
                              scale, op.getKeyCache().getType().getDimSize(0),
                              policy);
    rewriter.replaceOp(
        op, {ungroupHeads(b, loc, out, queryType), keyCache, valueCache});
    return success();
  }
};

/// loss = sum(mask * (logsumexp(logits) - logits[target])) / sum(mask), in
/// f32, with logsumexp = max + log(sum(exp(logits - max))).
struct CrossEntropyLowering : OpConversionPattern<CrossEntropyOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CrossEntropyOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto &b = rewriter;
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    Value logits = adaptor.getLogits();
    unsigned rank = op.getLogits().getType().getRank();
    unsigned rows = rank - 1; // the row dims: [...]
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, logits);
    SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);

    auto [rowMax, sumExp] = softmaxStatistics(b, loc, logits); // [...]

    // Per row: mask * (max + log(sumExp) - logits[target]), and the mask.
    AffineMap rowIdentity = b.getMultiDimIdentityMap(rows);
    Value rowLoss = generic(
        b, loc,
        ValueRange{adaptor.getTargets(), adaptor.getMask(), rowMax, sumExp},
        emptyTensor(b, loc, rowSizes, f32),
        SmallVector<AffineMap>(5, rowIdentity),
        SmallVector<IteratorType>(rows, IteratorType::parallel),
        [&](OpBuilder &nb, Location l, ValueRange args) {
          SmallVector<Value> indices = loopIndices(nb, l, rows);
          indices.push_back(
              arith::IndexCastOp::create(nb, l, nb.getIndexType(), args[0]));
          Value target = castFloat(
              nb, l, tensor::ExtractOp::create(nb, l, logits, indices), f32);
          Value logSumExp = arith::AddFOp::create(
              nb, l, args[2], math::LogOp::create(nb, l, args[3]));
          Value loss = arith::SubFOp::create(nb, l, logSumExp, target);
          yield(nb, l,
                arith::MulFOp::create(nb, l, castFloat(nb, l, args[1], f32),
                                      loss));
        }); // [...]

    // Sum both over every row, then divide.
    Value lossSum = totalSum(b, loc, rowLoss);
    Value maskSum = totalSum(b, loc, adaptor.getMask());
    Value loss = generic(
        b, loc, ValueRange{lossSum, maskSum}, emptyTensor(b, loc, {}, f32),
        SmallVector<AffineMap>(3, AffineMap::get(0, 0, {}, ctx)), {},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          yield(nb, l, arith::DivFOp::create(nb, l, args[0], args[1]));
        });
    rewriter.replaceOp(op, loss);
    return success();
  }
};

/// silu(gate) * up = gate / (1 + exp(-gate)) * up
struct SwiGLULowering : OpConversionPattern<SwiGLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SwiGLUOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, swiglu(rewriter, op.getLoc(), adaptor.getGate(), adaptor.getUp()));
    return success();
  }
};

struct AddLowering : OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, elementwise(
                rewriter, op.getLoc(),
                ValueRange{adaptor.getLhs(), adaptor.getRhs()}, op.getType(),
                [&](OpBuilder &b, Location l, ValueRange args) {
                  yield(b, l, arith::AddFOp::create(b, l, args[0], args[1]));
                }));
    return success();
  }
};

struct ConvertLlamaToLinalgPass
    : mlir::llama::impl::ConvertLlamaToLinalgPassBase<
          ConvertLlamaToLinalgPass> {
  using ConvertLlamaToLinalgPassBase::ConvertLlamaToLinalgPassBase;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addIllegalDialect<LlamaDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    patterns.add<EmbeddingLowering, RMSNormLowering, LinearLowering,
                 RotationLowering<RoPEOp, /*Inverse=*/false>, SwiGLULowering,
                 AddLowering, CrossEntropyLowering>(ctx);
    ParallelPolicy policy{alwaysParallel};
    patterns.add<AttentionLowering, CachedAttentionLowering>(ctx, policy);
    populateProjectionLoweringPatterns(patterns, policy);
    populateGradientLoweringPatterns(patterns, policy);
    populateOptimizerLoweringPatterns(patterns);
    populateRewardLoweringPatterns(patterns);
    populatePPOLoweringPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
