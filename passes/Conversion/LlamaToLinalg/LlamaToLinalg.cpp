//===- LlamaToLinalg.cpp - llama ops to linalg on tensors -----------------===//
//
// Each pattern writes one llama op as linalg.generic ops in destination style.
// Shapes follow the op docs; the comments give each tensor's shape with S the
// number of tokens, H heads, Hkv key/value heads, G = H / Hkv query heads per
// key/value head, D head_dim and L = position + S the attended keys.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
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

namespace {

using utils::IteratorType;
using BodyBuilder = function_ref<void(OpBuilder &, Location, ValueRange)>;

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

/// A tensor of the given sizes filled with `value` (an accumulator's init).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value) {
  Value init = emptyTensor(b, loc, sizes, elementType);
  Value scalar = arith::ConstantOp::create(
      b, loc, elementType, b.getFloatAttr(elementType, value));
  return linalg::FillOp::create(b, loc, scalar, init).getResult(0);
}

/// Converts a float scalar to `type` (weights may be narrower than
/// activations).
Value castFloat(OpBuilder &b, Location loc, Value value, Type type) {
  if (value.getType() == type)
    return value;
  unsigned from = value.getType().getIntOrFloatBitWidth();
  unsigned to = type.getIntOrFloatBitWidth();
  if (from < to)
    return arith::ExtFOp::create(b, loc, type, value);
  if (from == to) // bf16 <-> f16 goes through f32
    value = arith::ExtFOp::create(b, loc, b.getF32Type(), value);
  return arith::TruncFOp::create(b, loc, type, value);
}

Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, type, b.getFloatAttr(type, value));
}

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// (d0 .. d{n-1}) -> (d{first} .. d{first + count - 1})
AffineMap dimsMap(MLIRContext *ctx, unsigned numDims, unsigned first,
                  unsigned count) {
  SmallVector<AffineExpr> exprs;
  for (unsigned i = first; i < first + count; ++i)
    exprs.push_back(getAffineDimExpr(i, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

/// (d0 .. d{n-1}) -> (d{i} for i in dims)
AffineMap selectMap(MLIRContext *ctx, unsigned numDims,
                    ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

/// A generic op with one result; `iterators` fixes the loop count.
Value generic(OpBuilder &b, Location loc, ValueRange inputs, Value init,
              ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iterators,
              BodyBuilder body) {
  return linalg::GenericOp::create(b, loc, init.getType(), inputs, init, maps,
                                   iterators, body)
      .getResult(0);
}

/// An elementwise generic over tensors of one shape, producing `resultType`.
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs,
                  RankedTensorType resultType, BodyBuilder body) {
  int64_t rank = resultType.getRank();
  Value init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, inputs[0]),
                           resultType.getElementType());
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              b.getMultiDimIdentityMap(rank));
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  return generic(b, loc, inputs, init, maps, iterators, body);
}

void yield(OpBuilder &b, Location loc, Value value) {
  linalg::YieldOp::create(b, loc, ValueRange{value});
}

SmallVector<Value> loopIndices(OpBuilder &b, Location loc, unsigned count) {
  SmallVector<Value> indices;
  for (unsigned i = 0; i < count; ++i)
    indices.push_back(linalg::IndexOp::create(b, loc, i));
  return indices;
}

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
    Value init =
        emptyTensor(rewriter, loc, sizes, resultType.getElementType());
    MLIRContext *ctx = rewriter.getContext();
    Value result = generic(
        rewriter, loc, adaptor.getTokens(), init,
        {dimsMap(ctx, rank, 0, rank - 1), rewriter.getMultiDimIdentityMap(rank)},
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
          yield(b, l,
                                  arith::AddFOp::create(b, l, args[1], square));
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

/// y[..., n] = sum_k x[..., k] * w[n, k]
struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    Type elementType = type.getElementType();
    MLIRContext *ctx = rewriter.getContext();
    Value x = adaptor.getInput(), w = adaptor.getWeight();

    // Loops: the result's dims, then k.
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rewriter, loc, x);
    sizes.back() = tensor::getMixedSize(rewriter, loc, w, 0);
    SmallVector<unsigned> xDims;
    for (unsigned i = 0; i + 1 < rank; ++i)
      xDims.push_back(i);
    xDims.push_back(rank);
    SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
    iterators.push_back(IteratorType::reduction);
    Value result = generic(
        rewriter, loc, ValueRange{x, w},
        filledTensor(rewriter, loc, sizes, elementType, 0.0),
        {selectMap(ctx, rank + 1, xDims), selectMap(ctx, rank + 1, {rank - 1, rank}),
         dimsMap(ctx, rank + 1, 0, rank)},
        iterators, [&](OpBuilder &b, Location l, ValueRange args) {
          Value product = arith::MulFOp::create(
              b, l, castFloat(b, l, args[0], elementType),
              castFloat(b, l, args[1], elementType));
          yield(b, l,
                                  arith::AddFOp::create(b, l, args[2], product));
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Hugging Face's inverse frequencies, computed in float32 exactly as
/// `1.0 / (theta ** (arange(0, D, 2).float() / D))`.
DenseElementsAttr ropeInverseFrequencies(OpBuilder &b, int64_t headDim,
                                         double theta) {
  SmallVector<float> values;
  for (int64_t i = 0; i < headDim; i += 2) {
    float exponent = static_cast<float>(i) / static_cast<float>(headDim);
    values.push_back(1.0f / std::pow(static_cast<float>(theta), exponent));
  }
  auto type = RankedTensorType::get({headDim / 2}, b.getF32Type());
  return DenseElementsAttr::get(type, ArrayRef<float>(values));
}

/// y = x * cos(pos * f) + rotate_half(x) * sin(pos * f)
struct RoPELowering : OpConversionPattern<RoPEOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RoPEOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = op.getType();
    unsigned rank = type.getRank();
    int64_t headDim = type.getDimSize(rank - 1);
    if (ShapedType::isDynamic(headDim))
      return rewriter.notifyMatchFailure(op, "needs a static head_dim");
    int64_t half = headDim / 2;
    Type f32 = rewriter.getF32Type();
    Type elementType = type.getElementType();
    MLIRContext *ctx = rewriter.getContext();
    Value x = adaptor.getInput();
    unsigned posRank =
        cast<RankedTensorType>(adaptor.getPositions().getType()).getRank();

    Value invFreq = arith::ConstantOp::create(
        rewriter, loc,
        ropeInverseFrequencies(rewriter, headDim,
                               op.getTheta().convertToDouble())); // [D/2]
    Value result = generic(
        rewriter, loc, ValueRange{x, adaptor.getPositions()},
        emptyTensor(rewriter, loc, tensor::getMixedSizes(rewriter, loc, x),
                    elementType),
        {rewriter.getMultiDimIdentityMap(rank),
         dimsMap(ctx, rank, rank - 2 - posRank, posRank),
         rewriter.getMultiDimIdentityMap(rank)},
        SmallVector<IteratorType>(rank, IteratorType::parallel),
        [&](OpBuilder &b, Location l, ValueRange args) {
          SmallVector<Value> indices = loopIndices(b, l, rank);
          Value i = indices.back();
          Value halfValue = indexConstant(b, l, half);
          Value firstHalf = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::ult, i, halfValue);
          Value freqIndex = arith::RemUIOp::create(b, l, i, halfValue);
          Value freq = tensor::ExtractOp::create(b, l, invFreq, freqIndex);
          Value position =
              arith::SIToFPOp::create(b, l, f32, args[1]); // exact below 2^24
          Value angle = arith::MulFOp::create(b, l, position, freq);
          Value cos = math::CosOp::create(b, l, angle);
          Value sin = math::SinOp::create(b, l, angle);
          // rotate_half(x)[i] = i < D/2 ? -x[i + D/2] : x[i - D/2]
          indices.back() = arith::RemUIOp::create(
              b, l, arith::AddIOp::create(b, l, i, halfValue),
              indexConstant(b, l, headDim));
          Value partner = castFloat(
              b, l, tensor::ExtractOp::create(b, l, x, indices), f32);
          Value rotated = arith::SelectOp::create(
              b, l, firstHalf, arith::NegFOp::create(b, l, partner), partner);
          Value value = castFloat(b, l, args[0], f32);
          Value y = arith::AddFOp::create(
              b, l, arith::MulFOp::create(b, l, value, cos),
              arith::MulFOp::create(b, l, rotated, sin));
          yield(b, l, castFloat(b, l, y, elementType));
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// Writes k/v into the caches at `position`, then attends over cache rows
/// 0 .. position + s for query row s.
struct CachedAttentionLowering : OpConversionPattern<CachedAttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CachedAttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType queryType = op.getQuery().getType();
    int64_t numHeads = queryType.getDimSize(1);
    int64_t headDim = queryType.getDimSize(2);
    int64_t numKvHeads = op.getKey().getType().getDimSize(1);
    if (ShapedType::isDynamic(numHeads) || ShapedType::isDynamic(headDim) ||
        ShapedType::isDynamic(numKvHeads))
      return rewriter.notifyMatchFailure(op, "needs static head counts");
    int64_t group = numHeads / numKvHeads;
    Type elementType = queryType.getElementType();
    MLIRContext *ctx = rewriter.getContext();
    auto &b = rewriter;

    Value position = adaptor.getPosition();
    if (!position.getType().isIndex())
      position = arith::IndexCastOp::create(b, loc, b.getIndexType(), position);
    OpFoldResult seq = tensor::getMixedSize(b, loc, adaptor.getQuery(), 0);

    // 1. Write the new rows: cache[position : position + S] = k / v.
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

    // 2. The rows attended to: cache[0 : L], L = position + S.
    Value seqValue = getValueOrCreateConstantIndexOp(b, loc, seq);
    Value length = arith::AddIOp::create(b, loc, position, seqValue);
    SmallVector<OpFoldResult> zeroOffsets(3, b.getIndexAttr(0));
    SmallVector<OpFoldResult> prefixSizes = {
        length, b.getIndexAttr(numKvHeads), b.getIndexAttr(headDim)};
    Value keys = tensor::ExtractSliceOp::create(b, loc, keyCache, zeroOffsets,
                                                prefixSizes, unitStrides);
    Value values = tensor::ExtractSliceOp::create(
        b, loc, valueCache, zeroOffsets, prefixSizes, unitStrides); // [L, Hkv, D]

    // Query head h = kv * G + g reads key/value head kv.
    Value query = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get(
            {queryType.getDimSize(0), numKvHeads, group, headDim},
            elementType),
        adaptor.getQuery(), ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}},
        ArrayRef<OpFoldResult>{seq, b.getIndexAttr(numKvHeads),
                               b.getIndexAttr(group),
                               b.getIndexAttr(headDim)}); // [S, Hkv, G, D]

    // 3. scores[s, kv, g, t] = q · k (loops s, kv, g, t, d).
    SmallVector<OpFoldResult> scoreSizes = {seq, b.getIndexAttr(numKvHeads),
                                            b.getIndexAttr(group), length};
    auto P = IteratorType::parallel, R = IteratorType::reduction;
    Value scores = generic(
        b, loc, ValueRange{query, keys},
        filledTensor(b, loc, scoreSizes, elementType, 0.0),
        {selectMap(ctx, 5, {0, 1, 2, 4}), selectMap(ctx, 5, {3, 1, 4}),
         selectMap(ctx, 5, {0, 1, 2, 3})},
        {P, P, P, P, R}, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value product = arith::MulFOp::create(nb, l, args[0], args[1]);
          yield(nb, l,
                                  arith::AddFOp::create(nb, l, args[2], product));
        }); // [S, Hkv, G, L]

    // 4. Scale, and mask keys after the query's position (t > position + s).
    double scale = op.getScale().convertToDouble();
    AffineMap identity4 = b.getMultiDimIdentityMap(4);
    Value masked = generic(
        b, loc, scores, emptyTensor(b, loc, scoreSizes, elementType),
        {identity4, identity4}, {P, P, P, P},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value s = linalg::IndexOp::create(nb, l, 0);
          Value t = linalg::IndexOp::create(nb, l, 3);
          Value last = arith::AddIOp::create(nb, l, position, s);
          Value future =
              arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt, t, last);
          Value scaled = arith::MulFOp::create(
              nb, l, args[0], floatConstant(nb, l, elementType, scale));
          Value minusInf = floatConstant(
              nb, l, elementType, -std::numeric_limits<double>::infinity());
          yield(nb, l, arith::SelectOp::create(nb, l, future, minusInf, scaled));
        });

    // 5. Softmax over t: exp(x - max) / sum.
    SmallVector<OpFoldResult> rowSizes4(scoreSizes.begin(),
                                        scoreSizes.end() - 1);
    AffineMap rowMap = dimsMap(ctx, 4, 0, 3);
    Value rowMax = generic(
        b, loc, masked,
        filledTensor(b, loc, rowSizes4, elementType,
                     -std::numeric_limits<double>::infinity()),
        {identity4, rowMap}, {P, P, P, R},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          yield(nb, l, arith::MaximumFOp::create(nb, l, args[0], args[1]));
        });
    Value exps = generic(
        b, loc, ValueRange{masked, rowMax},
        emptyTensor(b, loc, scoreSizes, elementType),
        {identity4, rowMap, identity4}, {P, P, P, P},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          yield(nb, l,
              math::ExpOp::create(nb, l,
                                  arith::SubFOp::create(nb, l, args[0], args[1])));
        });
    Value rowSum = generic(
        b, loc, exps, filledTensor(b, loc, rowSizes4, elementType, 0.0),
        {identity4, rowMap}, {P, P, P, R},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          yield(nb, l,
                                  arith::AddFOp::create(nb, l, args[0], args[1]));
        });
    Value probs = generic(
        b, loc, ValueRange{exps, rowSum},
        emptyTensor(b, loc, scoreSizes, elementType),
        {identity4, rowMap, identity4}, {P, P, P, P},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          yield(nb, l,
                                  arith::DivFOp::create(nb, l, args[0], args[1]));
        }); // [S, Hkv, G, L]

    // 6. out[s, kv, g, d] = sum_t probs · v (loops s, kv, g, d, t).
    SmallVector<OpFoldResult> outSizes = {seq, b.getIndexAttr(numKvHeads),
                                          b.getIndexAttr(group),
                                          b.getIndexAttr(headDim)};
    Value out = generic(
        b, loc, ValueRange{probs, values},
        filledTensor(b, loc, outSizes, elementType, 0.0),
        {selectMap(ctx, 5, {0, 1, 2, 4}), selectMap(ctx, 5, {4, 1, 3}),
         selectMap(ctx, 5, {0, 1, 2, 3})},
        {P, P, P, P, R}, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value product = arith::MulFOp::create(nb, l, args[0], args[1]);
          yield(nb, l,
                                  arith::AddFOp::create(nb, l, args[2], product));
        }); // [S, Hkv, G, D]
    Value result = tensor::CollapseShapeOp::create(
        b, loc, queryType, out,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}}); // [S, H, D]
    rewriter.replaceOp(op, {result, keyCache, valueCache});
    return success();
  }
};

/// silu(gate) * up = gate / (1 + exp(-gate)) * up
struct SwiGLULowering : OpConversionPattern<SwiGLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SwiGLUOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Type type = op.getType().getElementType();
    rewriter.replaceOp(
        op, elementwise(rewriter, op.getLoc(),
                        ValueRange{adaptor.getGate(), adaptor.getUp()},
                        op.getType(),
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          Value one = floatConstant(b, l, type, 1.0);
                          Value sigmoid = arith::DivFOp::create(
                              b, l, one,
                              arith::AddFOp::create(
                                  b, l, one,
                                  math::ExpOp::create(
                                      b, l, arith::NegFOp::create(b, l, args[0]))));
                          Value silu = arith::MulFOp::create(b, l, args[0], sigmoid);
                          yield(b, l, arith::MulFOp::create(b, l, silu, args[1]));
                        }));
    return success();
  }
};

struct AddLowering : OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, elementwise(rewriter, op.getLoc(),
                        ValueRange{adaptor.getLhs(), adaptor.getRhs()},
                        op.getType(),
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          yield(b, l, arith::AddFOp::create(b, l, args[0], args[1]));
                        }));
    return success();
  }
};

struct ConvertLlamaToLinalgPass
    : mlir::llama::impl::ConvertLlamaToLinalgPassBase<ConvertLlamaToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addIllegalDialect<LlamaDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, tensor::TensorDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    RewritePatternSet patterns(ctx);
    patterns.add<EmbeddingLowering, RMSNormLowering, LinearLowering,
                 RoPELowering, CachedAttentionLowering, SwiGLULowering,
                 AddLowering>(ctx);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
