//===- DecodeAttention.cpp - one query row's attention as five reductions -===//
//
// On a GPU, the fused flash loop (FlashAttention.cpp) gives each (row
// chunk, key/value head) to one thread, which then walks every key alone:
// for decode, a few dozen threads for the whole attention. Decode's one
// query row per head is built here as plain linalg ops instead: the scores
// [Hkv, G, L] (a dot product over the head's contiguous D per key), their
// max and sum of exponentials along the keys, the probabilities, and the
// probability-weighted sum of value rows. The kernel stage's
// llama-flash-decoding recognizes the five and emits flash-decoding (a
// warp per key/value head and key range, an online softmax, a merge of the
// ranges), so the [Hkv, G, L] intermediates never reach memory; as plain
// ops, the form is what test/e2e/nvidia-form.test checks on the CPU.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/LlamaToLinalg/Builders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

namespace mlir::llama::lowering {

Value decodeAttention(OpBuilder &b, Location loc, Value query, Value keys,
                      Value values, double scale) {
  MLIRContext *ctx = b.getContext();
  auto queryType = cast<RankedTensorType>(query.getType()); // [1, Hkv, G, D]
  Type f32 = queryType.getElementType();
  OpFoldResult heads = b.getIndexAttr(queryType.getDimSize(1));
  OpFoldResult group = b.getIndexAttr(queryType.getDimSize(2));
  OpFoldResult headDim = b.getIndexAttr(queryType.getDimSize(3));
  OpFoldResult length = tensor::getMixedSize(b, loc, keys, 0);
  Value q = tensor::CollapseShapeOp::create(
      b, loc, query, SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
  auto parallel = IteratorType::parallel, reduction = IteratorType::reduction;
  Value scaleValue = floatConstant(b, loc, f32, scale);
  // exp(scale * (s - max)): the scaled scores' exponentials, max-shifted.
  auto shiftedExp = [&](OpBuilder &b, Location loc, Value s, Value max) {
    Value shifted = arith::SubFOp::create(b, loc, s, max);
    return math::ExpOp::create(
        b, loc, arith::MulFOp::create(b, loc, shifted, scaleValue));
  };

  // scores [Hkv, G, L] = q [Hkv, G, D] . keys [L, Hkv, D]; loops (h, g, t, d)
  Value scores =
      generic(b, loc, ValueRange{q, keys},
              filledTensor(b, loc, {heads, group, length}, f32, 0.0),
              {selectMap(ctx, 4, {0, 1, 3}), selectMap(ctx, 4, {2, 0, 3}),
               selectMap(ctx, 4, {0, 1, 2})},
              {parallel, parallel, parallel, reduction}, multiplyAccumulate);
  // max and sum of exponentials [Hkv, G] over t; loops (h, g, t)
  AffineMap perScore = selectMap(ctx, 3, {0, 1, 2});
  AffineMap perHead = selectMap(ctx, 3, {0, 1});
  Value max = generic(
      b, loc, scores,
      filledTensor(b, loc, {heads, group}, f32,
                   -std::numeric_limits<double>::infinity()),
      {perScore, perHead}, {parallel, parallel, reduction},
      [&](OpBuilder &b, Location loc, ValueRange args) {
        yield(b, loc, arith::MaximumFOp::create(b, loc, args[1], args[0]));
      });
  Value sum = generic(
      b, loc, ValueRange{scores, max},
      filledTensor(b, loc, {heads, group}, f32, 0.0),
      {perScore, perHead, perHead}, {parallel, parallel, reduction},
      [&](OpBuilder &b, Location loc, ValueRange args) {
        yield(b, loc,
              arith::AddFOp::create(b, loc, args[2],
                                    shiftedExp(b, loc, args[0], args[1])));
      });
  // probabilities [Hkv, G, L]
  Value probs = generic(
      b, loc, ValueRange{scores, max, sum},
      emptyTensor(b, loc, {heads, group, length}, f32),
      {perScore, perHead, perHead, perScore}, {parallel, parallel, parallel},
      [&](OpBuilder &b, Location loc, ValueRange args) {
        yield(b, loc,
              arith::DivFOp::create(
                  b, loc, shiftedExp(b, loc, args[0], args[1]), args[2]));
      });
  // out [Hkv, G, D] = probs [Hkv, G, L] . values [L, Hkv, D]; loops
  // (h, g, d, t)
  Value out =
      generic(b, loc, ValueRange{probs, values},
              filledTensor(b, loc, {heads, group, headDim}, f32, 0.0),
              {selectMap(ctx, 4, {0, 1, 3}), selectMap(ctx, 4, {3, 0, 2}),
               selectMap(ctx, 4, {0, 1, 2})},
              {parallel, parallel, parallel, reduction}, multiplyAccumulate);
  return tensor::ExpandShapeOp::create(
      b, loc, queryType, out,
      SmallVector<ReassociationIndices>{{0, 1}, {2}, {3}});
}

} // namespace mlir::llama::lowering
