//===- FlashAttention.cpp - causal attention and its gradient, fused -----===//
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
// The gradient is fused the same way, per (batch.., key/value head): for
// each row, the forward sweep again (its max, sum and output O), then a
// second sweep over the keys that forms P, dP = dy·v and dS = P (dP - dy·O)
// block by block, keeping dq in registers and adding into the head's dk/dv
// rows. Nothing of size [S, H, L] is ever stored, forward or backward.
//
//===----------------------------------------------------------------------===//

#include "passes/Conversion/LlamaToLinalg/Builders.h"
#include "passes/Transforms/Chunks.h"

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

  /// G, D and the element type from the query's type.
  static FlashAttention of(unsigned nb, Value query, Value keys, Value values,
                           Value offset, double scale) {
    auto type = cast<RankedTensorType>(query.getType());
    return {nb,
            query,
            keys,
            values,
            offset,
            scale,
            type.getDimSize(nb + 2),
            type.getDimSize(nb + 3),
            type.getElementType()};
  }

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

  Value zeroRow(OpBuilder &b, Location loc) const {
    return arith::ConstantOp::create(
        b, loc, rowType(),
        DenseElementsAttr::get(rowType(), b.getFloatAttr(elementType, 0.0)));
  }

  /// Keys t0 .. t0 + kKeyBlock - 1 of one row's sweep: which are < length,
  /// the cache rows read for them and their key and value vectors. Keys
  /// past the end are read at the last row (memory that exists); callers
  /// give them a weight of exactly 0.
  struct KeyBlock {
    SmallVector<Value> inRange, rows, keys, values;
  };
  KeyBlock loadBlock(OpBuilder &b, Location loc, ValueRange batch, Value head,
                     Value t0, Value length) const {
    Value last =
        arith::SubIOp::create(b, loc, length, indexConstant(b, loc, 1));
    KeyBlock block;
    for (int64_t j = 0; j < kKeyBlock; ++j) {
      Value t = arith::AddIOp::create(b, loc, t0, indexConstant(b, loc, j));
      block.inRange.push_back(
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t, length));
      Value row = arith::MinUIOp::create(b, loc, t, last);
      block.rows.push_back(row);
      block.keys.push_back(readRow(b, loc, keys, batch, row, head));
      block.values.push_back(readRow(b, loc, values, batch, row, head));
    }
    return block;
  }

  /// [kKeyBlock] dot products of `x` with `rows`, `outside` for keys out of
  /// range.
  Value blockDots(OpBuilder &b, Location loc, Value x, ArrayRef<Value> rows,
                  const KeyBlock &block, double outside) const {
    Value fill = floatConstant(b, loc, elementType, outside);
    SmallVector<Value> dots;
    for (int64_t j = 0; j < kKeyBlock; ++j) {
      Value products = arith::MulFOp::create(b, loc, x, rows[j]);
      Value dot = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, products);
      dots.push_back(
          arith::SelectOp::create(b, loc, block.inRange[j], dot, fill));
    }
    return vector::FromElementsOp::create(b, loc, blockType(), dots);
  }

  /// Folds one block of keys into the states of the G query heads.
  SmallVector<SoftmaxState> foldBlock(OpBuilder &b, Location loc,
                                      const KeyBlock &block,
                                      ArrayRef<Value> queries,
                                      ArrayRef<SoftmaxState> states) const {
    SmallVector<SoftmaxState> next;
    for (auto [q, state] : llvm::zip_equal(queries, states)) {
      Value scores = blockDots(b, loc, q, block.keys, block,
                               -std::numeric_limits<double>::infinity());
      Value blockMax = vector::ReductionOp::create(
          b, loc, vector::CombiningKind::MAXIMUMF, scores);
      Value max = arith::MaximumFOp::create(b, loc, state.max, blockMax);
      // exp(-inf - max) = 0 on the first block: nothing to rescale yet.
      Value rescale = math::ExpOp::create(
          b, loc, arith::SubFOp::create(b, loc, state.max, max));
      Value weights = math::ExpOp::create(
          b, loc,
          arith::SubFOp::create(
              b, loc, scores,
              vector::BroadcastOp::create(b, loc, blockType(), max)));
      Value sum = arith::AddFOp::create(
          b, loc, arith::MulFOp::create(b, loc, state.sum, rescale),
          vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                      weights));
      Value acc = arith::MulFOp::create(
          b, loc, state.acc,
          vector::BroadcastOp::create(b, loc, rowType(), rescale));
      next.push_back(
          {max, sum, accumulateRows(b, loc, acc, weights, block.values)});
    }
    return next;
  }

  /// acc + sum_j weights[j] · rows[j]
  Value accumulateRows(OpBuilder &b, Location loc, Value acc, Value weights,
                       ArrayRef<Value> rows) const {
    for (int64_t j = 0; j < kKeyBlock; ++j) {
      Value weight = vector::ExtractOp::create(b, loc, weights, j);
      acc = vector::FMAOp::create(
          b, loc, vector::BroadcastOp::create(b, loc, rowType(), weight),
          rows[j], acc);
    }
    return acc;
  }

  /// Row `row`'s G query heads of kv head `head` in `source` (the query or
  /// its gradient, [B.., S, Hkv, G, D]).
  SmallVector<Value> loadGroup(OpBuilder &b, Location loc, Value source,
                               ValueRange batch, Value row, Value head) const {
    SmallVector<Value> rows;
    for (int64_t g = 0; g < group; ++g)
      rows.push_back(readRow(b, loc, source, batch, row, head, g));
    return rows;
  }

  /// The query rows times the attention's scale: once per row instead of
  /// once per score.
  SmallVector<Value> scaled(OpBuilder &b, Location loc,
                            ArrayRef<Value> rows) const {
    Value factor = vector::BroadcastOp::create(
        b, loc, rowType(), floatConstant(b, loc, elementType, scale));
    SmallVector<Value> out;
    for (Value row : rows)
      out.push_back(arith::MulFOp::create(b, loc, row, factor));
    return out;
  }

  /// The online softmax of the (scaled) queries over keys 0 .. length - 1.
  SmallVector<SoftmaxState> sweep(OpBuilder &b, Location loc, ValueRange batch,
                                  Value head, Value length,
                                  ArrayRef<Value> queries) const {
    SmallVector<Value> init;
    for (int64_t g = 0; g < group; ++g)
      init.append({floatConstant(b, loc, elementType,
                                 -std::numeric_limits<double>::infinity()),
                   floatConstant(b, loc, elementType, 0.0), zeroRow(b, loc)});
    auto loop = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), length,
        indexConstant(b, loc, kKeyBlock), init,
        [&](OpBuilder &nb_, Location l, Value t0, ValueRange carried) {
          KeyBlock block = loadBlock(nb_, l, batch, head, t0, length);
          SmallVector<Value> yielded;
          for (const SoftmaxState &s :
               foldBlock(nb_, l, block, queries, unpack(carried)))
            yielded.append({s.max, s.sum, s.acc});
          scf::YieldOp::create(nb_, l, yielded);
        });
    return unpack(loop.getResults());
  }

  SmallVector<SoftmaxState> unpack(ValueRange values) const {
    SmallVector<SoftmaxState> states;
    for (int64_t g = 0; g < group; ++g)
      states.push_back({values[3 * g], values[3 * g + 1], values[3 * g + 2]});
    return states;
  }

  /// The softmax's output acc / sum.
  Value output(OpBuilder &b, Location loc, const SoftmaxState &state) const {
    return arith::DivFOp::create(
        b, loc, state.acc,
        vector::BroadcastOp::create(b, loc, rowType(), state.sum));
  }

  /// Attention of query row `row` (at position offset + row, seeing keys
  /// 0 .. offset + row) of kv head `head`, written to tile[.., i, 0, g, :].
  Value attendRow(OpBuilder &b, Location loc, ValueRange batch, Value head,
                  Value row, Value tile, Value i) const {
    Value length = arith::AddIOp::create(
        b, loc, arith::AddIOp::create(b, loc, offset, row),
        indexConstant(b, loc, 1));
    SmallVector<SoftmaxState> states =
        sweep(b, loc, batch, head, length,
              scaled(b, loc, loadGroup(b, loc, query, batch, row, head)));
    for (int64_t g = 0; g < group; ++g)
      tile = writeRow(b, loc, output(b, loc, states[g]), tile, i, g);
    return tile;
  }

  /// [0.., i, 0, (g,) 0]: row i of a tile [1.., rows, 1, (G,) D].
  SmallVector<Value> tileRow(OpBuilder &b, Location loc, Value tile, Value i,
                             std::optional<int64_t> g = {}) const {
    unsigned rank = cast<RankedTensorType>(tile.getType()).getRank();
    SmallVector<Value> indices(rank, indexConstant(b, loc, 0));
    indices[nb] = i;
    if (g)
      indices[nb + 2] = indexConstant(b, loc, *g);
    return indices;
  }

  Value writeRow(OpBuilder &b, Location loc, Value x, Value tile, Value i,
                 std::optional<int64_t> g = {}) const {
    return vector::TransferWriteOp::create(b, loc, x, tile,
                                           tileRow(b, loc, tile, i, g),
                                           ArrayRef<bool>{true})
        .getResult();
  }

  Value readTileRow(OpBuilder &b, Location loc, Value tile, Value i) const {
    return vector::TransferReadOp::create(
        b, loc, rowType(), tile, tileRow(b, loc, tile, i),
        floatConstant(b, loc, elementType, 0.0), ArrayRef<bool>{true});
  }

  /// The gradients of query row `row` (offset 0) of kv head `head`, with
  /// dy [B.., S, Hkv, G, D] the output's gradient: recomputes the row's
  /// softmax (max, sum, output O), then with P = exp(s - max) / sum, dP = dy
  /// · v and D = dy · O (= sum_t P dP), dS = P (dP - D) scale per key:
  /// dq = sum_t dS k_t (returned, [G] rows), dk_t += dS q, dv_t += P dy
  /// (in the [1.., S, 1, D] tiles).
  std::tuple<SmallVector<Value>, Value, Value>
  gradRow(OpBuilder &b, Location loc, ValueRange batch, Value head, Value row,
          Value dy, Value dkTile, Value dvTile) const {
    Value length = arith::AddIOp::create(b, loc, row, indexConstant(b, loc, 1));
    SmallVector<Value> queries = loadGroup(b, loc, query, batch, row, head);
    SmallVector<Value> scaledQueries = scaled(b, loc, queries);
    SmallVector<Value> grads = loadGroup(b, loc, dy, batch, row, head);
    SmallVector<SoftmaxState> states =
        sweep(b, loc, batch, head, length, scaledQueries);
    SmallVector<Value> inverseSums, outputDots;
    for (int64_t g = 0; g < group; ++g) {
      Value one = floatConstant(b, loc, elementType, 1.0);
      inverseSums.push_back(arith::DivFOp::create(b, loc, one, states[g].sum));
      Value products =
          arith::MulFOp::create(b, loc, grads[g], output(b, loc, states[g]));
      outputDots.push_back(vector::ReductionOp::create(
          b, loc, vector::CombiningKind::ADD, products));
    }

    SmallVector<Value> init(group, zeroRow(b, loc));
    init.append({dkTile, dvTile});
    auto loop = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), length,
        indexConstant(b, loc, kKeyBlock), init,
        [&](OpBuilder &nb_, Location l, Value t0, ValueRange carried) {
          KeyBlock block = loadBlock(nb_, l, batch, head, t0, length);
          SmallVector<Value> dq(carried.take_front(group));
          SmallVector<Value> dk(kKeyBlock, zeroRow(nb_, l));
          SmallVector<Value> dv(kKeyBlock, zeroRow(nb_, l));
          for (int64_t g = 0; g < group; ++g) {
            // P: exp(-inf) = 0 past the end.
            Value scores =
                blockDots(nb_, l, scaledQueries[g], block.keys, block,
                          -std::numeric_limits<double>::infinity());
            Value probs = arith::MulFOp::create(
                nb_, l,
                math::ExpOp::create(
                    nb_, l,
                    arith::SubFOp::create(
                        nb_, l, scores,
                        vector::BroadcastOp::create(nb_, l, blockType(),
                                                    states[g].max))),
                vector::BroadcastOp::create(nb_, l, blockType(),
                                            inverseSums[g]));
            Value dprobs = blockDots(nb_, l, grads[g], block.values, block, 0);
            Value dscores = arith::MulFOp::create(
                nb_, l,
                arith::MulFOp::create(
                    nb_, l, probs,
                    arith::SubFOp::create(
                        nb_, l, dprobs,
                        vector::BroadcastOp::create(nb_, l, blockType(),
                                                    outputDots[g]))),
                vector::BroadcastOp::create(
                    nb_, l, blockType(),
                    floatConstant(nb_, l, elementType, scale)));
            dq[g] = accumulateRows(nb_, l, dq[g], dscores, block.keys);
            for (int64_t j = 0; j < kKeyBlock; ++j) {
              auto lane = [&](Value weights) {
                Value w = vector::ExtractOp::create(nb_, l, weights, j);
                return vector::BroadcastOp::create(nb_, l, rowType(), w)
                    .getResult();
              };
              dk[j] = vector::FMAOp::create(nb_, l, lane(dscores), queries[g],
                                            dk[j]);
              dv[j] =
                  vector::FMAOp::create(nb_, l, lane(probs), grads[g], dv[j]);
            }
          }
          // Keys past the end add 0 to the last row.
          Value dkTile = carried[group], dvTile = carried[group + 1];
          for (int64_t j = 0; j < kKeyBlock; ++j) {
            Value t = block.rows[j];
            dkTile =
                writeRow(nb_, l,
                         arith::AddFOp::create(
                             nb_, l, readTileRow(nb_, l, dkTile, t), dk[j]),
                         dkTile, t);
            dvTile =
                writeRow(nb_, l,
                         arith::AddFOp::create(
                             nb_, l, readTileRow(nb_, l, dvTile, t), dv[j]),
                         dvTile, t);
          }
          SmallVector<Value> yielded(dq);
          yielded.append({dkTile, dvTile});
          scf::YieldOp::create(nb_, l, yielded);
        });
    SmallVector<Value> dq(loop.getResults().take_front(group));
    return {dq, loop.getResult(group), loop.getResult(group + 1)};
  }
};

/// An attention's multiply-adds, B.. x S x H x D x (key capacity / 2, the
/// causal mean), a run-time row count taken as kAssumedDynamicExtent: what
/// decides its threads (a toy model's decode step attends in ~2 µs, less
/// than waking a thread; on 2 cores such forks made decode 2-4x slower).
int64_t attentionWork(RankedTensorType queryType, int64_t keyCapacity) {
  int64_t work = std::max<int64_t>(1, keyCapacity / 2);
  for (int64_t extent : queryType.getShape())
    work *= ShapedType::isDynamic(extent) ? kAssumedDynamicExtent : extent;
  return work;
}

} // namespace

Value causalAttention(OpBuilder &b, Location loc, unsigned nb, Value query,
                      Value keys, Value values, Value offset, double scale,
                      int64_t keyCapacity, ParallelPolicy policy) {
  auto queryType = cast<RankedTensorType>(query.getType());
  Type elementType = queryType.getElementType();
  FlashAttention attention =
      FlashAttention::of(nb, query, keys, values, offset, scale);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, query);
  bool parallel = policy.parallel(attentionWork(queryType, keyCapacity));
  // Row chunks for the threads: one for a single row (decode), else up to
  // 4 of >= 8 rows; on a GPU a chunk per row (a GPU block each).
  int64_t rows = queryType.getDimSize(nb);
  OpFoldResult chunks = b.getIndexAttr(
      !parallel                     ? 1
      : ShapedType::isDynamic(rows) ? 4
                                    : std::clamp<int64_t>(rows / 8, 1, 4));
  if (policy.always)
    chunks = sizes[nb];
  Value chunkCount = getValueOrCreateConstantIndexOp(b, loc, chunks);
  SmallVector<OpFoldResult> bounds(sizes.begin(), sizes.begin() + nb);
  bounds.append({chunks, sizes[nb + 1]});
  Value out = emptyTensor(b, loc, sizes, elementType);
  return forEachPoint(
      b, loc, bounds, out, parallel,
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange) {
        ValueRange batch = ivs.take_front(nb);
        Value chunk = ivs[nb], head = ivs[nb + 1];
        // This chunk's rows: chunk, chunk + C, ... (ceil((S - chunk) / C)).
        Value rowCount = getValueOrCreateConstantIndexOp(b, loc, sizes[nb]);
        Value chunkRows = arith::DivUIOp::create(
            b, loc,
            arith::SubIOp::create(
                b, loc,
                arith::AddIOp::create(
                    b, loc, rowCount,
                    arith::SubIOp::create(b, loc, chunkCount,
                                          indexConstant(b, loc, 1))),
                chunk),
            chunkCount);
        // tile [1.., chunkRows, 1, G, D]
        SmallVector<OpFoldResult> tileSizes(nb, b.getIndexAttr(1));
        tileSizes.append(
            {chunkRows, b.getIndexAttr(1), sizes[nb + 2], sizes[nb + 3]});
        Value tile = emptyTensor(b, loc, tileSizes, elementType);
        auto rowsLoop = scf::ForOp::create(
            b, loc, indexConstant(b, loc, 0), chunkRows,
            indexConstant(b, loc, 1), ValueRange{tile},
            [&](OpBuilder &nb_, Location l, Value i, ValueRange carried) {
              Value row = arith::AddIOp::create(
                  nb_, l, chunk, arith::MulIOp::create(nb_, l, i, chunkCount));
              scf::YieldOp::create(
                  nb_, l,
                  attention.attendRow(nb_, l, batch, head, row, carried[0], i));
            });
        SmallVector<OpFoldResult> offsets(batch.begin(), batch.end());
        offsets.append({chunk, head, b.getIndexAttr(0), b.getIndexAttr(0)});
        SmallVector<OpFoldResult> strides(nb + 4, b.getIndexAttr(1));
        strides[nb] = chunks;
        return SmallVector<Tile>{
            {rowsLoop.getResult(0), offsets, tileSizes, strides}};
      },
      policy.mapping(b, bounds.size()))[0];
}

std::tuple<Value, Value, Value> causalAttentionGrad(OpBuilder &b, Location loc,
                                                    unsigned nb, Value query,
                                                    Value keys, Value values,
                                                    Value dy, double scale,
                                                    ParallelPolicy policy) {
  auto queryType = cast<RankedTensorType>(query.getType());
  Type elementType = queryType.getElementType();
  FlashAttention attention = FlashAttention::of(
      nb, query, keys, values, indexConstant(b, loc, 0), scale);
  SmallVector<OpFoldResult> querySizes = tensor::getMixedSizes(b, loc, query);
  SmallVector<OpFoldResult> keySizes = tensor::getMixedSizes(b, loc, keys);
  // One point per (batch.., kv head): it owns its keys' gradients, summed
  // over every row and query head of the group.
  SmallVector<OpFoldResult> bounds(querySizes.begin(), querySizes.begin() + nb);
  bounds.push_back(querySizes[nb + 1]);
  SmallVector<Value> outs = {emptyTensor(b, loc, querySizes, elementType),
                             emptyTensor(b, loc, keySizes, elementType),
                             emptyTensor(b, loc, keySizes, elementType)};
  bool parallel = policy.parallel(attentionWork(
      queryType, cast<RankedTensorType>(keys.getType()).getDimSize(nb)));
  SmallVector<Value> grads = forEachPoint(
      b, loc, bounds, outs, parallel,
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange) {
        ValueRange batch = ivs.take_front(nb);
        Value head = ivs[nb];
        // dq tile [1.., S, 1, G, D], dk/dv tiles [1.., S, 1, D]
        SmallVector<OpFoldResult> dqSizes(nb, b.getIndexAttr(1));
        dqSizes.append({querySizes[nb], b.getIndexAttr(1), querySizes[nb + 2],
                        querySizes[nb + 3]});
        SmallVector<OpFoldResult> dkSizes(nb, b.getIndexAttr(1));
        dkSizes.append({keySizes[nb], b.getIndexAttr(1), keySizes[nb + 2]});
        Value dqTile = emptyTensor(b, loc, dqSizes, elementType);
        Value dkTile = filledTensor(b, loc, dkSizes, elementType, 0.0);
        Value dvTile = filledTensor(b, loc, dkSizes, elementType, 0.0);
        Value rows = getValueOrCreateConstantIndexOp(b, loc, querySizes[nb]);
        auto rowsLoop = scf::ForOp::create(
            b, loc, indexConstant(b, loc, 0), rows, indexConstant(b, loc, 1),
            ValueRange{dqTile, dkTile, dvTile},
            [&](OpBuilder &nb_, Location l, Value row, ValueRange carried) {
              auto [dq, dk, dv] = attention.gradRow(nb_, l, batch, head, row,
                                                    dy, carried[1], carried[2]);
              Value tile = carried[0];
              for (auto [g, rowGrad] : llvm::enumerate(dq))
                tile = attention.writeRow(nb_, l, rowGrad, tile, row, g);
              scf::YieldOp::create(nb_, l, ValueRange{tile, dk, dv});
            });
        auto at = [&](Value tile, ArrayRef<OpFoldResult> sizes) {
          SmallVector<OpFoldResult> offsets(batch.begin(), batch.end());
          offsets.append({b.getIndexAttr(0), head});
          offsets.append(sizes.size() - offsets.size(), b.getIndexAttr(0));
          return Tile{
              tile, offsets, SmallVector<OpFoldResult>(sizes),
              SmallVector<OpFoldResult>(sizes.size(), b.getIndexAttr(1))};
        };
        return SmallVector<Tile>{at(rowsLoop.getResult(0), dqSizes),
                                 at(rowsLoop.getResult(1), dkSizes),
                                 at(rowsLoop.getResult(2), dkSizes)};
      },
      policy.mapping(b, bounds.size()));
  return {grads[0], grads[1], grads[2]};
}

} // namespace mlir::llama::lowering
