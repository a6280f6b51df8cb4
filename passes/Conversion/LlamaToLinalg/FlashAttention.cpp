//===- FlashAttention.cpp - causal attention in one pass over the keys ----===//
//
// The attention forward as one fused loop nest instead of five linalg ops
// (scores, row max, exponentials, sum over values, row sums), each of which
// made its own pass over [S, H, L]: for every query row and key/value head,
// one sweep over blocks of keys with an online softmax (a running max m,
// sum of exponentials l and unnormalized output acc, rescaled by
// exp(m_old - m_new) when the max grows). The G query heads of a group
// share each key and value row as it is loaded, the scores never leave
// registers, and the output is divided by l once at the end.
//
// Work is spread over threads by an scf.forall over (batch.., row chunk,
// key/value head); a row chunk takes every C-th row so that causal rows,
// which see more keys the later they come, balance across chunks.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/LlamaToLinalg/Builders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

namespace mlir::llama::lowering {

namespace {

/// Keys per step of the online softmax: their scores form one vector, so
/// the max, the exponentials and the rescaling are paid once per block.
constexpr int64_t kKeyBlock = 8;

/// The running state of one query head: max m, sum l, output acc [D].
struct SoftmaxState {
  Value max, sum, acc;
};

/// Shapes and operands of one attention, shared by the loop builders.
struct FlashAttention {
  unsigned nb;      // leading batch dims
  Value query;      // [B.., S, Hkv, G, D]
  Value keys;       // [B.., L, Hkv, D], L >= offset + S
  Value values;     // [B.., L, Hkv, D]
  Value offset;     // position of query row 0
  double scale;     // 1 / sqrt(D)
  int64_t group;    // G
  int64_t headDim;  // D
  Type elementType; // f32

  VectorType rowType() const { return VectorType::get({headDim}, elementType); }
  VectorType blockType() const {
    return VectorType::get({kKeyBlock}, elementType);
  }

  /// The D-vector at [batch.., row, head, (g,) 0] of `source`.
  Value readRow(OpBuilder &b, Location loc, Value source, ValueRange batch,
                Value row, Value head, std::optional<int64_t> g = {}) const {
    SmallVector<Value> indices(batch);
    indices.append({row, head});
    if (g)
      indices.push_back(indexConstant(b, loc, *g));
    indices.push_back(indexConstant(b, loc, 0));
    Value pad = floatConstant(b, loc, elementType, 0.0);
    return vector::TransferReadOp::create(b, loc, rowType(), source, indices,
                                          pad, ArrayRef<bool>{true});
  }

  /// Folds keys t0 .. t0 + kKeyBlock - 1 (those < `length`) into the
  /// states of the G query heads.
  SmallVector<SoftmaxState> foldBlock(OpBuilder &b, Location loc,
                                      ValueRange batch, Value head, Value t0,
                                      Value length, ArrayRef<Value> queries,
                                      ArrayRef<SoftmaxState> states) const {
    Value last =
        arith::SubIOp::create(b, loc, length, indexConstant(b, loc, 1));
    Value minusInf = floatConstant(b, loc, elementType,
                                   -std::numeric_limits<double>::infinity());
    SmallVector<Value> keyRows, valueRows, inRange;
    for (int64_t j = 0; j < kKeyBlock; ++j) {
      Value t = arith::AddIOp::create(b, loc, t0, indexConstant(b, loc, j));
      inRange.push_back(
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t, length));
      // Keys past the end are read at the last row (memory that exists)
      // and get a score of -inf, so their weight is exactly 0.
      Value row = arith::MinUIOp::create(b, loc, t, last);
      keyRows.push_back(readRow(b, loc, keys, batch, row, head));
      valueRows.push_back(readRow(b, loc, values, batch, row, head));
    }
    SmallVector<SoftmaxState> next;
    for (auto [q, state] : llvm::zip_equal(queries, states)) {
      SmallVector<Value> scores;
      for (int64_t j = 0; j < kKeyBlock; ++j) {
        Value products = arith::MulFOp::create(b, loc, q, keyRows[j]);
        Value dot = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, products);
        scores.push_back(
            arith::SelectOp::create(b, loc, inRange[j], dot, minusInf));
      }
      Value block = vector::FromElementsOp::create(b, loc, blockType(), scores);
      Value blockMax = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::MAXIMUMF, block);
      Value max = arith::MaximumFOp::create(b, loc, state.max, blockMax);
      // exp(-inf - max) = 0 on the first block: nothing to rescale yet.
      Value rescale = math::ExpOp::create(
          b, loc, arith::SubFOp::create(b, loc, state.max, max));
      Value weights = math::ExpOp::create(
          b, loc,
          arith::SubFOp::create(
              b, loc, block,
              vector::BroadcastOp::create(b, loc, blockType(), max)));
      Value sum = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, state.sum, rescale),
          vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                      weights));
      Value acc = arith::MulFOp::create(
          b, loc, state.acc,
          vector::BroadcastOp::create(b, loc, rowType(), rescale));
      for (int64_t j = 0; j < kKeyBlock; ++j) {
        Value weight = vector::ExtractOp::create(b, loc, weights, j);
        acc = vector::FMAOp::create(
            b, loc, vector::BroadcastOp::create(b, loc, rowType(), weight),
            valueRows[j], acc);
      }
      next.push_back({max, sum, acc});
    }
    return next;
  }

  /// Attention of query row `row` (at position offset + row, seeing keys
  /// 0 .. offset + row) of kv head `head`, written to tile[.., i, 0, g, :].
  Value attendRow(OpBuilder &b, Location loc, ValueRange batch, Value head,
                  Value row, Value tile, Value i) const {
    Value length = arith::AddIOp::create(
        b, loc, arith::AddIOp::create(b, loc, offset, row),
        indexConstant(b, loc, 1));
    Value scaleVector = vector::BroadcastOp::create(
        b, loc, rowType(), floatConstant(b, loc, elementType, scale));
    SmallVector<Value> queries, init;
    for (int64_t g = 0; g < group; ++g) {
      // Scaled once per row instead of once per score.
      queries.push_back(arith::MulFOp::create(
          b, loc, readRow(b, loc, query, batch, row, head, g), scaleVector));
      init.append({floatConstant(b, loc, elementType,
                                 -std::numeric_limits<double>::infinity()),
                   floatConstant(b, loc, elementType, 0.0),
                   arith::ConstantOp::create(
                       b, loc, rowType(),
                       DenseElementsAttr::get(
                           rowType(), b.getFloatAttr(elementType, 0.0)))});
    }
    auto sweep = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), length,
        indexConstant(b, loc, kKeyBlock), init,
        [&](OpBuilder &nb_, Location l, Value t0, ValueRange carried) {
          SmallVector<SoftmaxState> states;
          for (int64_t g = 0; g < group; ++g)
            states.push_back(
                {carried[3 * g], carried[3 * g + 1], carried[3 * g + 2]});
          SmallVector<Value> yielded;
          for (const SoftmaxState &s :
               foldBlock(nb_, l, batch, head, t0, length, queries, states))
            yielded.append({s.max, s.sum, s.acc});
          scf::YieldOp::create(nb_, l, yielded);
        });
    unsigned rank = cast<RankedTensorType>(tile.getType()).getRank();
    for (int64_t g = 0; g < group; ++g) {
      Value sum = vector::BroadcastOp::create(b, loc, rowType(),
                                              sweep.getResult(3 * g + 1));
      Value out =
          arith::DivFOp::create(b, loc, sweep.getResult(3 * g + 2), sum);
      SmallVector<Value> indices(rank, indexConstant(b, loc, 0));
      indices[rank - 4] = i;
      indices[rank - 2] = indexConstant(b, loc, g);
      tile = vector::TransferWriteOp::create(b, loc, out, tile, indices,
                                             ArrayRef<bool>{true})
                 .getResult();
    }
    return tile;
  }
};

} // namespace

Value causalAttention(OpBuilder &b, Location loc, unsigned nb, Value query,
                      Value keys, Value values, Value offset, double scale) {
  auto queryType = cast<RankedTensorType>(query.getType());
  FlashAttention attention{nb,
                           query,
                           keys,
                           values,
                           offset,
                           scale,
                           queryType.getDimSize(nb + 2),
                           queryType.getDimSize(nb + 3),
                           queryType.getElementType()};
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, query);
  int64_t kvHeads = queryType.getDimSize(nb + 1);
  // Row chunks: one for a single row (decode), else up to 4 of >= 8 rows.
  int64_t rows = queryType.getDimSize(nb);
  int64_t chunks =
      ShapedType::isDynamic(rows) ? 4 : std::clamp<int64_t>(rows / 8, 1, 4);

  SmallVector<OpFoldResult> bounds(sizes.begin(), sizes.begin() + nb);
  bounds.append({b.getIndexAttr(chunks), b.getIndexAttr(kvHeads)});
  Value out = emptyTensor(b, loc, sizes, queryType.getElementType());
  auto forall = scf::ForallOp::create(b, loc, bounds, ValueRange{out},
                                      /*mapping=*/std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(forall.getBody());
  SmallVector<Value> ivs(forall.getInductionVars());
  ValueRange batch = ValueRange(ivs).take_front(nb);
  Value chunk = ivs[nb], head = ivs[nb + 1];

  // This chunk's rows: chunk, chunk + C, ... (ceil((S - chunk) / C) of them).
  Value rowCount = getValueOrCreateConstantIndexOp(b, loc, sizes[nb]);
  Value chunkRows = arith::DivUIOp::create(
      b, loc,
      arith::SubIOp::create(
          b, loc,
          arith::AddIOp::create(b, loc, rowCount,
                                indexConstant(b, loc, chunks - 1)),
          chunk),
      indexConstant(b, loc, chunks));
  // tile [1.., chunkRows, 1, G, D]
  SmallVector<OpFoldResult> tileSizes(nb, b.getIndexAttr(1));
  tileSizes.append(
      {chunkRows, b.getIndexAttr(1), sizes[nb + 2], sizes[nb + 3]});
  Value tile = emptyTensor(b, loc, tileSizes, queryType.getElementType());
  auto rowsLoop = scf::ForOp::create(
      b, loc, indexConstant(b, loc, 0), chunkRows, indexConstant(b, loc, 1),
      ValueRange{tile},
      [&](OpBuilder &nb_, Location l, Value i, ValueRange carried) {
        Value row = arith::AddIOp::create(
            nb_, l, chunk,
            arith::MulIOp::create(nb_, l, i, indexConstant(nb_, l, chunks)));
        scf::YieldOp::create(
            nb_, l,
            attention.attendRow(nb_, l, batch, head, row, carried[0], i));
      });

  b.setInsertionPointToStart(forall.getTerminator().getBody());
  SmallVector<OpFoldResult> offsets(batch.begin(), batch.end());
  offsets.append({chunk, head, b.getIndexAttr(0), b.getIndexAttr(0)});
  SmallVector<OpFoldResult> strides(nb + 4, b.getIndexAttr(1));
  strides[nb] = b.getIndexAttr(chunks);
  tensor::ParallelInsertSliceOp::create(b, loc, rowsLoop.getResult(0),
                                        forall.getRegionOutArgs()[0], offsets,
                                        tileSizes, strides);
  return forall.getResult(0);
}

} // namespace mlir::llama::lowering
