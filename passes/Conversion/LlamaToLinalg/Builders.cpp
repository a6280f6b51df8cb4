//===- Builders.cpp - linalg building blocks for llama lowerings ----------===//

#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Transforms/Chunks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>
#include <limits>

namespace mlir::llama::lowering {

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

/// A tensor of the given sizes filled with `value` (an accumulator's init).
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value) {
  Value init = emptyTensor(b, loc, sizes, elementType);
  Value scalar = arith::ConstantOp::create(b, loc, elementType,
                                           b.getFloatAttr(elementType, value));
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
                  RankedTensorType resultType, BodyBuilder body, Value init) {
  int64_t rank = resultType.getRank();
  if (!init)
    init = emptyTensor(b, loc, tensor::getMixedSizes(b, loc, inputs[0]),
                       resultType.getElementType());
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              b.getMultiDimIdentityMap(rank));
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  return generic(b, loc, inputs, init, maps, iterators, body);
}

Value sigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = floatConstant(b, loc, x.getType(), 1.0);
  return arith::DivFOp::create(
      b, loc, one,
      arith::AddFOp::create(
          b, loc, one,
          math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x))));
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
static SmallVector<ReassociationIndices> headReassociation(unsigned rank) {
  SmallVector<ReassociationIndices> groups;
  for (unsigned i = 0; i + 2 < rank; ++i)
    groups.push_back({int64_t(i)});
  groups.push_back({int64_t(rank - 2), int64_t(rank - 1)});
  groups.push_back({int64_t(rank)});
  return groups;
}

AffineMap batchedMap(MLIRContext *ctx, unsigned nb, unsigned numDims,
                     ArrayRef<unsigned> dims) {
  SmallVector<unsigned> all;
  for (unsigned i = 0; i < nb; ++i)
    all.push_back(i);
  for (unsigned d : dims)
    all.push_back(nb + d);
  return selectMap(ctx, numDims, all);
}

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

/// Hugging Face's inverse frequencies, computed in float32 exactly as
/// `1.0 / (theta ** (arange(0, D, 2).float() / D))`.
static DenseElementsAttr ropeInverseFrequencies(OpBuilder &b, int64_t headDim,
                                                double theta) {
  SmallVector<float> values;
  for (int64_t i = 0; i < headDim; i += 2) {
    float exponent = static_cast<float>(i) / static_cast<float>(headDim);
    values.push_back(1.0f / std::pow(static_cast<float>(theta), exponent));
  }
  auto type = RankedTensorType::get({headDim / 2}, b.getF32Type());
  return DenseElementsAttr::get(type, ArrayRef<float>(values));
}

/// cos and sin of every position's angles, [positions.., D] (the D/2
/// frequencies twice, as Hugging Face's `cat(freqs, freqs)`), in f32: once
/// per position, not once per head and element of x.
static std::pair<Value, Value> rotationTables(OpBuilder &builder, Location loc,
                                              Value positions, int64_t headDim,
                                              double theta) {
  Type f32 = builder.getF32Type();
  int64_t half = headDim / 2;
  unsigned rank = cast<RankedTensorType>(positions.getType()).getRank() + 1;
  Value invFreq = arith::ConstantOp::create(
      builder, loc, ropeInverseFrequencies(builder, headDim, theta)); // [D/2]
  SmallVector<OpFoldResult> sizes =
      tensor::getMixedSizes(builder, loc, positions);
  sizes.push_back(builder.getIndexAttr(headDim));
  Value cosInit = emptyTensor(builder, loc, sizes, f32);
  Value sinInit = emptyTensor(builder, loc, sizes, f32);
  AffineMap table = builder.getMultiDimIdentityMap(rank);
  auto tables = linalg::GenericOp::create(
      builder, loc, TypeRange{cosInit.getType(), sinInit.getType()},
      ValueRange{positions}, ValueRange{cosInit, sinInit},
      ArrayRef<AffineMap>{dimsMap(builder.getContext(), rank, 0, rank - 1),
                          table, table},
      SmallVector<IteratorType>(rank, IteratorType::parallel),
      [&](OpBuilder &b, Location l, ValueRange args) {
        Value i = linalg::IndexOp::create(b, l, rank - 1);
        Value freqIndex =
            arith::RemUIOp::create(b, l, i, indexConstant(b, l, half));
        Value freq =
            tensor::ExtractOp::create(b, l, invFreq, ValueRange{freqIndex});
        Value position =
            arith::SIToFPOp::create(b, l, f32, args[0]); // exact below 2^24
        Value angle = arith::MulFOp::create(b, l, position, freq);
        linalg::YieldOp::create(b, l,
                                ValueRange{math::CosOp::create(b, l, angle),
                                           math::SinOp::create(b, l, angle)});
      });
  return {tables.getResult(0), tables.getResult(1)};
}

Value rotate(OpBuilder &builder, Location loc, Value x, Value positions,
             double theta, bool inverse) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  int64_t headDim = type.getDimSize(rank - 1);
  int64_t half = headDim / 2;
  Type f32 = builder.getF32Type();
  Type elementType = type.getElementType();
  MLIRContext *ctx = builder.getContext();
  unsigned posRank = cast<RankedTensorType>(positions.getType()).getRank();
  auto [cosTable, sinTable] =
      rotationTables(builder, loc, positions, headDim, theta);
  // The tables [positions.., D] seen from x [.., S, H, D].
  SmallVector<AffineExpr> tableExprs = llvm::to_vector(
      dimsMap(ctx, rank, rank - 2 - posRank, posRank).getResults());
  tableExprs.push_back(builder.getAffineDimExpr(rank - 1));
  AffineMap tableMap = AffineMap::get(rank, 0, tableExprs, ctx);
  return generic(
      builder, loc, ValueRange{x, cosTable, sinTable},
      emptyTensor(builder, loc, tensor::getMixedSizes(builder, loc, x),
                  elementType),
      {builder.getMultiDimIdentityMap(rank), tableMap, tableMap,
       builder.getMultiDimIdentityMap(rank)},
      SmallVector<IteratorType>(rank, IteratorType::parallel),
      [&](OpBuilder &b, Location l, ValueRange args) {
        SmallVector<Value> indices = loopIndices(b, l, rank);
        Value i = indices.back();
        Value halfValue = indexConstant(b, l, half);
        Value firstHalf = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult,
                                                i, halfValue);
        Value cos = args[1], sin = args[2];
        if (inverse) // the transpose rotates by -angle
          sin = arith::NegFOp::create(b, l, sin);
        // rotate_half(x)[i] = i < D/2 ? -x[i + D/2] : x[i - D/2]
        indices.back() = arith::RemUIOp::create(
            b, l, arith::AddIOp::create(b, l, i, halfValue),
            indexConstant(b, l, headDim));
        Value partner =
            castFloat(b, l, tensor::ExtractOp::create(b, l, x, indices), f32);
        Value rotated = arith::SelectOp::create(
            b, l, firstHalf, arith::NegFOp::create(b, l, partner), partner);
        Value value = castFloat(b, l, args[0], f32);
        Value y =
            arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, value, cos),
                                  arith::MulFOp::create(b, l, rotated, sin));
        yield(b, l, castFloat(b, l, y, elementType));
      });
}

Value scaledF32(OpBuilder &b, Location loc, Value x, Value scale) {
  Value value = castFloat(b, loc, x, b.getF32Type());
  return scale ? arith::MulFOp::create(b, loc, value, scale).getResult()
               : value;
}

std::pair<Value, Value> softmaxStatistics(OpBuilder &b, Location loc,
                                          Value logits, Value scale) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), f64 = b.getF64Type();
  unsigned rank = cast<RankedTensorType>(logits.getType()).getRank();
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, logits);
  SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap rowMap = dimsMap(ctx, rank, 0, rank - 1);
  SmallVector<IteratorType> reduceLast(rank - 1, IteratorType::parallel);
  reduceLast.push_back(IteratorType::reduction);
  Value rowMax =
      generic(b, loc, logits,
              filledTensor(b, loc, rowSizes, f32,
                           -std::numeric_limits<double>::infinity()),
              {identity, rowMap}, reduceLast,
              [&](OpBuilder &nb, Location l, ValueRange args) {
                yield(nb, l,
                      arith::MaximumFOp::create(
                          nb, l, scaledF32(nb, l, args[0], scale), args[1]));
              }); // [...]
  // A row is the whole vocabulary (32000 terms): sum the exponentials in f64.
  Value sumExp64 = generic(
      b, loc, ValueRange{logits, rowMax},
      filledTensor(b, loc, rowSizes, f64, 0.0), {identity, rowMap, rowMap},
      reduceLast, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value shifted = arith::SubFOp::create(
            nb, l, scaledF32(nb, l, args[0], scale), args[1]);
        Value term = castFloat(nb, l, math::ExpOp::create(nb, l, shifted), f64);
        yield(nb, l, reassociableAdd(nb, l, args[2], term));
      }); // [...] f64
  Value sumExp =
      elementwise(b, loc, sumExp64,
                  RankedTensorType::get(
                      cast<RankedTensorType>(rowMax.getType()).getShape(), f32),
                  [&](OpBuilder &nb, Location l, ValueRange args) {
                    yield(nb, l, castFloat(nb, l, args[0], f32));
                  }); // [...]
  return {rowMax, sumExp};
}

Value weightedSoftmaxMinusOnehot(OpBuilder &b, Location loc, Value logits,
                                 Value targets, Value rowWeight, Value scale) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  auto type = cast<RankedTensorType>(logits.getType());
  unsigned rank = type.getRank();
  auto [rowMax, sumExp] = softmaxStatistics(b, loc, logits, scale);
  AffineMap identity = b.getMultiDimIdentityMap(rank);
  AffineMap rowMap = dimsMap(ctx, rank, 0, rank - 1);
  return generic(
      b, loc, ValueRange{logits, targets, rowMax, sumExp, rowWeight},
      emptyTensor(b, loc, tensor::getMixedSizes(b, loc, logits),
                  type.getElementType()),
      {identity, rowMap, rowMap, rowMap, rowMap, identity},
      SmallVector<IteratorType>(rank, IteratorType::parallel),
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value v = linalg::IndexOp::create(nb, l, rank - 1);
        Value target =
            arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[1]);
        Value isTarget =
            arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, v, target);
        Value shifted =
            arith::SubFOp::create(nb, l, scaledF32(nb, l, a[0], scale), a[2]);
        Value prob = arith::DivFOp::create(
            nb, l, math::ExpOp::create(nb, l, shifted), a[3]);
        Value grad = arith::SubFOp::create(
            nb, l, prob,
            arith::SelectOp::create(nb, l, isTarget,
                                    floatConstant(nb, l, f32, 1.0),
                                    floatConstant(nb, l, f32, 0.0)));
        yield(nb, l,
              castFloat(nb, l, arith::MulFOp::create(nb, l, a[4], grad),
                        type.getElementType()));
      });
}

Value reassociableAdd(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return arith::AddFOp::create(
      b, loc, lhs, rhs,
      arith::FastMathFlagsAttr::get(b.getContext(),
                                    arith::FastMathFlags::reassoc));
}

void multiplyAccumulate(OpBuilder &b, Location loc, ValueRange args) {
  Type type = args[2].getType();
  auto contract = arith::FastMathFlagsAttr::get(b.getContext(),
                                                arith::FastMathFlags::contract);
  auto reassocContract = arith::FastMathFlagsAttr::get(
      b.getContext(),
      arith::FastMathFlags::reassoc | arith::FastMathFlags::contract);
  Value product =
      arith::MulFOp::create(b, loc, castFloat(b, loc, args[0], type),
                            castFloat(b, loc, args[1], type), contract);
  yield(b, loc,
        arith::AddFOp::create(b, loc, args[2], product, reassocContract));
}

Value totalSumF64(OpBuilder &b, Location loc, ValueRange tensors,
                  bool squares) {
  MLIRContext *ctx = b.getContext();
  Type f64 = b.getF64Type();
  Value sum = filledTensor(b, loc, {}, f64, 0.0);
  for (Value tensor : tensors) {
    unsigned rank = cast<RankedTensorType>(tensor.getType()).getRank();
    sum = generic(
        b, loc, tensor, sum,
        {b.getMultiDimIdentityMap(rank), AffineMap::get(rank, 0, {}, ctx)},
        SmallVector<IteratorType>(rank, IteratorType::reduction),
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value x = castFloat(nb, l, args[0], f64);
          if (squares)
            x = arith::MulFOp::create(nb, l, x, x);
          yield(nb, l, reassociableAdd(nb, l, args[1], x));
        });
  }
  return sum;
}

Value mapScalar(OpBuilder &b, Location loc, Value scalar, Type resultType,
                function_ref<Value(OpBuilder &, Location, Value)> fn) {
  AffineMap map = AffineMap::get(0, 0, {}, b.getContext());
  return generic(b, loc, scalar, emptyTensor(b, loc, {}, resultType),
                 {map, map}, {},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   yield(nb, l, fn(nb, l, args[0]));
                 });
}

Value totalSum(OpBuilder &b, Location loc, Value rows) {
  Type f32 = b.getF32Type();
  return mapScalar(b, loc, totalSumF64(b, loc, rows, /*squares=*/false), f32,
                   [&](OpBuilder &nb, Location l, Value sum) {
                     return castFloat(nb, l, sum, f32);
                   });
}

bool ParallelPolicy::parallel(int64_t work) const {
  return always || work >= kMinWorkForThreads;
}

ArrayAttr ParallelPolicy::mapping(OpBuilder &b, unsigned rank) const {
  if (!always || rank > 3)
    return {};
  SmallVector<Attribute> blocks;
  for (unsigned d = 0; d < rank; ++d)
    blocks.push_back(gpu::GPUBlockMappingAttr::get(
        b.getContext(), gpu::MappingId(rank - 1 - d)));
  return b.getArrayAttr(blocks);
}

SmallVector<Value> forEachPoint(OpBuilder &b, Location loc,
                                ArrayRef<OpFoldResult> bounds, ValueRange outs,
                                bool parallel, TileBuilder body,
                                ArrayAttr mapping) {
  if (parallel) {
    auto forall = scf::ForallOp::create(
        b, loc, bounds, outs,
        mapping ? std::optional<ArrayAttr>(mapping) : std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    SmallVector<Tile> tiles =
        body(b, loc, forall.getInductionVars(), forall.getRegionOutArgs());
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    for (auto [tile, out] : llvm::zip_equal(tiles, forall.getRegionOutArgs()))
      tensor::ParallelInsertSliceOp::create(
          b, loc, tile.value, out, tile.offsets, tile.sizes, tile.strides);
    return forall.getResults();
  }
  SmallVector<Value> lower, upper, steps;
  for (OpFoldResult bound : bounds) {
    lower.push_back(indexConstant(b, loc, 0));
    upper.push_back(getValueOrCreateConstantIndexOp(b, loc, bound));
    steps.push_back(indexConstant(b, loc, 1));
  }
  scf::LoopNest nest = scf::buildLoopNest(
      b, loc, lower, upper, steps, outs,
      [&](OpBuilder &nb_, Location l, ValueRange ivs, ValueRange carried) {
        scf::ValueVector inserted;
        for (auto [tile, out] :
             llvm::zip_equal(body(nb_, l, ivs, carried), carried))
          inserted.push_back(tensor::InsertSliceOp::create(
              nb_, l, tile.value, out, tile.offsets, tile.sizes, tile.strides));
        return inserted;
      });
  return nest.results;
}

Value linearProduct(OpBuilder &b, Location loc, Value x, Value weight,
                    Value init) {
  MLIRContext *ctx = b.getContext();
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  if (!init) {
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    sizes.back() = tensor::getMixedSize(b, loc, weight, 0);
    init =
        filledTensor(b, loc, sizes,
                     cast<RankedTensorType>(x.getType()).getElementType(), 0.0);
  }
  // Loops: the result's dims, then k.
  SmallVector<unsigned> xDims;
  for (unsigned i = 0; i + 1 < rank; ++i)
    xDims.push_back(i);
  xDims.push_back(rank);
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  return generic(b, loc, ValueRange{x, weight}, init,
                 {selectMap(ctx, rank + 1, xDims),
                  selectMap(ctx, rank + 1, {rank - 1, rank}),
                  dimsMap(ctx, rank + 1, 0, rank)},
                 iterators, multiplyAccumulate);
}

Value swiglu(OpBuilder &b, Location loc, Value gate, Value up, Value init) {
  return elementwise(
      b, loc, ValueRange{gate, up}, cast<RankedTensorType>(gate.getType()),
      [&](OpBuilder &b, Location l, ValueRange args) {
        Value silu =
            arith::MulFOp::create(b, l, args[0], sigmoid(b, l, args[0]));
        yield(b, l, arith::MulFOp::create(b, l, silu, args[1]));
      },
      init);
}

} // namespace mlir::llama::lowering
