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

/// How a [B.., S, H, D] tensor (rank `rank`) expands to [B.., S, Hkv, G, D]:
/// every dim maps to itself except H, which maps to (Hkv, G).
SmallVector<ReassociationIndices> headReassociation(unsigned rank) {
  SmallVector<ReassociationIndices> groups;
  for (unsigned i = 0; i + 2 < rank; ++i)
    groups.push_back({int64_t(i)});
  groups.push_back({int64_t(rank - 2), int64_t(rank - 1)});
  groups.push_back({int64_t(rank)});
  return groups;
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

/// (d0 .. d{n-1}) -> (d{i} for i in prefix ++ dims), prefix = d0 .. d{nb-1}:
/// an indexing map over `nb` leading batch loops plus the given ones.
AffineMap batchedMap(MLIRContext *ctx, unsigned nb, unsigned numDims,
                     ArrayRef<unsigned> dims) {
  SmallVector<unsigned> all;
  for (unsigned i = 0; i < nb; ++i)
    all.push_back(i);
  for (unsigned d : dims)
    all.push_back(nb + d);
  return selectMap(ctx, numDims, all);
}

/// Causal grouped-query attention on tensors with `nb` leading batch dims:
///   query  [B.., S, Hkv, G, D]   (query head h = kv * G + g)
///   keys   [B.., L, Hkv, D], values [B.., L, Hkv, D]
/// Query row s sits at position `offset + s` and sees keys 0 .. offset + s.
/// Returns [B.., S, Hkv, G, D].
Value causalAttention(OpBuilder &b, Location loc, unsigned nb, Value query,
                      Value keys, Value values, Value offset, double scale) {
  MLIRContext *ctx = b.getContext();
  auto queryType = cast<RankedTensorType>(query.getType());
  Type elementType = queryType.getElementType();
  auto P = IteratorType::parallel, R = IteratorType::reduction;
  SmallVector<OpFoldResult> querySizes = tensor::getMixedSizes(b, loc, query);
  OpFoldResult length = tensor::getMixedSize(b, loc, keys, nb);
  auto iterators = [&](ArrayRef<IteratorType> tail) {
    SmallVector<IteratorType> all(nb, P);
    all.append(tail.begin(), tail.end());
    return all;
  };

  // scores[B.., s, kv, g, t] = q · k   (loops B.., s, kv, g, t, d)
  SmallVector<OpFoldResult> scoreSizes(querySizes.begin(),
                                       querySizes.end() - 1);
  scoreSizes.push_back(length);
  unsigned n5 = nb + 5, n4 = nb + 4;
  Value scores = generic(
      b, loc, ValueRange{query, keys},
      filledTensor(b, loc, scoreSizes, elementType, 0.0),
      {batchedMap(ctx, nb, n5, {0, 1, 2, 4}), batchedMap(ctx, nb, n5, {3, 1, 4}),
       batchedMap(ctx, nb, n5, {0, 1, 2, 3})},
      iterators({P, P, P, P, R}), [&](OpBuilder &nb_, Location l, ValueRange args) {
        Value product = arith::MulFOp::create(nb_, l, args[0], args[1]);
        yield(nb_, l, arith::AddFOp::create(nb_, l, args[2], product));
      });

  // Scale, and mask keys after the query's position (t > offset + s).
  AffineMap identity = b.getMultiDimIdentityMap(n4);
  Value masked = generic(
      b, loc, scores, emptyTensor(b, loc, scoreSizes, elementType),
      {identity, identity}, iterators({P, P, P, P}),
      [&](OpBuilder &nb_, Location l, ValueRange args) {
        Value s = linalg::IndexOp::create(nb_, l, nb);
        Value t = linalg::IndexOp::create(nb_, l, nb + 3);
        Value last = arith::AddIOp::create(nb_, l, offset, s);
        Value future =
            arith::CmpIOp::create(nb_, l, arith::CmpIPredicate::ugt, t, last);
        Value scaled = arith::MulFOp::create(
            nb_, l, args[0], floatConstant(nb_, l, elementType, scale));
        Value minusInf = floatConstant(
            nb_, l, elementType, -std::numeric_limits<double>::infinity());
        yield(nb_, l, arith::SelectOp::create(nb_, l, future, minusInf, scaled));
      });

  // Softmax over t: exp(x - max) / sum.
  SmallVector<OpFoldResult> rowSizes(scoreSizes.begin(), scoreSizes.end() - 1);
  AffineMap rowMap = dimsMap(ctx, n4, 0, n4 - 1);
  Value rowMax = generic(
      b, loc, masked,
      filledTensor(b, loc, rowSizes, elementType,
                   -std::numeric_limits<double>::infinity()),
      {identity, rowMap}, iterators({P, P, P, R}),
      [&](OpBuilder &nb_, Location l, ValueRange args) {
        yield(nb_, l, arith::MaximumFOp::create(nb_, l, args[0], args[1]));
      });
  Value exps = generic(
      b, loc, ValueRange{masked, rowMax},
      emptyTensor(b, loc, scoreSizes, elementType), {identity, rowMap, identity},
      iterators({P, P, P, P}), [&](OpBuilder &nb_, Location l, ValueRange args) {
        yield(nb_, l,
              math::ExpOp::create(nb_, l,
                                  arith::SubFOp::create(nb_, l, args[0], args[1])));
      });
  Value rowSum = generic(
      b, loc, exps, filledTensor(b, loc, rowSizes, elementType, 0.0),
      {identity, rowMap}, iterators({P, P, P, R}),
      [&](OpBuilder &nb_, Location l, ValueRange args) {
        yield(nb_, l, arith::AddFOp::create(nb_, l, args[0], args[1]));
      });
  Value probs = generic(
      b, loc, ValueRange{exps, rowSum},
      emptyTensor(b, loc, scoreSizes, elementType), {identity, rowMap, identity},
      iterators({P, P, P, P}), [&](OpBuilder &nb_, Location l, ValueRange args) {
        yield(nb_, l, arith::DivFOp::create(nb_, l, args[0], args[1]));
      }); // [B.., S, Hkv, G, L]

  // out[B.., s, kv, g, d] = sum_t probs · v   (loops B.., s, kv, g, d, t)
  return generic(
      b, loc, ValueRange{probs, values},
      filledTensor(b, loc, querySizes, elementType, 0.0),
      {batchedMap(ctx, nb, n5, {0, 1, 2, 4}), batchedMap(ctx, nb, n5, {4, 1, 3}),
       batchedMap(ctx, nb, n5, {0, 1, 2, 3})},
      iterators({P, P, P, P, R}), [&](OpBuilder &nb_, Location l, ValueRange args) {
        Value product = arith::MulFOp::create(nb_, l, args[0], args[1]);
        yield(nb_, l, arith::AddFOp::create(nb_, l, args[2], product));
      });
}

/// [B.., S, H, D] -> [B.., S, Hkv, G, D] and back: the query heads grouped by
/// the key/value head they read.
Value groupHeads(OpBuilder &b, Location loc, Value query, int64_t numKvHeads) {
  auto type = cast<RankedTensorType>(query.getType());
  unsigned rank = type.getRank();
  int64_t group = type.getDimSize(rank - 2) / numKvHeads;
  SmallVector<int64_t> shape(type.getShape());
  shape[rank - 2] = numKvHeads;
  shape.insert(shape.begin() + rank - 1, group);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, query);
  sizes[rank - 2] = b.getIndexAttr(numKvHeads);
  sizes.insert(sizes.begin() + rank - 1, b.getIndexAttr(group));
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), query,
      headReassociation(rank), sizes);
}

Value ungroupHeads(OpBuilder &b, Location loc, Value grouped,
                   RankedTensorType type) {
  return tensor::CollapseShapeOp::create(b, loc, type, grouped,
                                         headReassociation(type.getRank()));
}

/// Causal attention over one batch of sequences (the training path).
struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
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
    Value out = causalAttention(rewriter, loc, rank - 3, query,
                                adaptor.getKey(), adaptor.getValue(),
                                indexConstant(rewriter, loc, 0),
                                op.getScale().convertToDouble());
    rewriter.replaceOp(op, ungroupHeads(rewriter, loc, out, type));
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
    SmallVector<OpFoldResult> prefixSizes = {
        length, b.getIndexAttr(numKvHeads), b.getIndexAttr(headDim)};
    Value keys = tensor::ExtractSliceOp::create(b, loc, keyCache, zeroOffsets,
                                                prefixSizes, unitStrides);
    Value values = tensor::ExtractSliceOp::create(
        b, loc, valueCache, zeroOffsets, prefixSizes, unitStrides); // [L, Hkv, D]
    Value query = groupHeads(b, loc, adaptor.getQuery(), numKvHeads);
    Value out = causalAttention(b, loc, /*nb=*/0, query, keys, values, position,
                                op.getScale().convertToDouble());
    rewriter.replaceOp(op, {ungroupHeads(b, loc, out, queryType), keyCache,
                            valueCache});
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
    auto P = IteratorType::parallel, R = IteratorType::reduction;
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, logits);
    SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    AffineMap rowMap = dimsMap(ctx, rank, 0, rows);
    SmallVector<IteratorType> reduceLast(rows, P);
    reduceLast.push_back(R);

    Value rowMax = generic(
        b, loc, logits,
        filledTensor(b, loc, rowSizes, f32,
                     -std::numeric_limits<double>::infinity()),
        {identity, rowMap}, reduceLast,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          yield(nb, l,
                arith::MaximumFOp::create(nb, l, castFloat(nb, l, args[0], f32),
                                          args[1]));
        }); // [...]
    Value sumExp = generic(
        b, loc, ValueRange{logits, rowMax},
        filledTensor(b, loc, rowSizes, f32, 0.0), {identity, rowMap, rowMap},
        reduceLast, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value shifted = arith::SubFOp::create(
              nb, l, castFloat(nb, l, args[0], f32), args[1]);
          yield(nb, l,
                arith::AddFOp::create(nb, l, args[2],
                                      math::ExpOp::create(nb, l, shifted)));
        }); // [...]

    // Per row: mask * (max + log(sumExp) - logits[target]), and the mask.
    AffineMap rowIdentity = b.getMultiDimIdentityMap(rows);
    Value rowLoss = generic(
        b, loc,
        ValueRange{adaptor.getTargets(), adaptor.getMask(), rowMax, sumExp},
        emptyTensor(b, loc, rowSizes, f32),
        SmallVector<AffineMap>(5, rowIdentity),
        SmallVector<IteratorType>(rows, P),
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
    AffineMap toScalar = AffineMap::get(rows, 0, {}, ctx);
    SmallVector<IteratorType> reduceAll(rows, R);
    auto total = [&](Value rowsValue) {
      return generic(b, loc, rowsValue, filledTensor(b, loc, {}, f32, 0.0),
                     {rowIdentity, toScalar}, reduceAll,
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       yield(nb, l,
                             arith::AddFOp::create(
                                 nb, l, castFloat(nb, l, args[0], f32), args[1]));
                     });
    };
    Value lossSum = total(rowLoss), maskSum = total(adaptor.getMask());
    Value loss = generic(
        b, loc, ValueRange{lossSum, maskSum},
        emptyTensor(b, loc, {}, f32),
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
                 RoPELowering, AttentionLowering, CachedAttentionLowering,
                 SwiGLULowering, AddLowering, CrossEntropyLowering>(ctx);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
