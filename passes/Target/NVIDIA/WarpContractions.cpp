//===- WarpContractions.cpp - reductions along rows as warp reductions ----===//
//
// A reduction along the innermost, contiguous dim k -- out[n] += f(x[n, k])
// (RMSNorm's sum of squares), out[m, n] += f(x[m, k], w[n, k]) over a few
// rows M (decode's projections, the LM head), max or sum over an attention
// row's keys -- is a pass over memory: its speed is how fast the operands
// stream. Mapped like any loop nest, a thread per output element would walk
// its row alone, K serial steps with neighbouring threads a row apart: no
// coalescing, and one thread for a norm's whole row. Here a warp owns an
// output point instead (its parallel dims but a leading m, flattened: the
// columns). Its 32 lanes read the rows' contiguous K in vectors of up to 16
// bytes (a warp reads 512 consecutive bytes at a step), each lane keeps a
// partial result per row m (an operand without m, the weight, is loaded
// once for all rows; one without k, once per point), five butterfly
// shuffles combine them across the warp with the body's own combiner (add,
// max), and lane 0 writes. A block is 4 warps; the grid covers the columns.
// A linalg.fill of the output right before becomes the start value.
//
// What follows such a reduction over the same rows and reads its result
// only at its own point joins the warp as a chain (RowReductions.h):
// softmax's max, sum of exponentials and probabilities; RMSNorm's sum of
// squares and scaling; decode's gate and up sums and their SwiGLU. The
// results stay in registers (after the shuffles every lane has them), and
// each lane reads and writes the same elements of a row in every step: one
// kernel instead of one per step, no warp waiting for another.
//
// A sum read only by later such reductions over the same row, through one
// factor of their products (decode's RMSNorm sum of squares, read through
// the rsqrt in the projections), is folded into them (RowReductions.h,
// FoldedSum): no kernel of its own.
//
// Runs on buffers, before the loops become kernels: the result is a
// parallel loop over blocks holding one over (lane, warp) threads, which
// gpu-map-parallel-loops maps to the grid and to threads (x = lane).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"
#include "passes/Target/NVIDIA/RowReductions.h"
#include "passes/Target/NVIDIA/Warps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAWARPCONTRACTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama::warp;
using mlir::llama::indicesAt;
using mlir::llama::rowsAligned;
using mlir::llama::takeFill;
using mlir::llama::warps::loadRow;
using mlir::llama::warps::storeRow;

namespace {

/// How a warp's lanes walk a row: `lanes` of them, `width` elements each
/// per step.
struct Walk {
  int64_t lanes, width;
};

/// Marks a lane's walk along k with the rows whose loads a step keeps
/// live, for the pass to unroll it at the end.
constexpr llvm::StringLiteral kLaneWalkRows = "llama.lane_walk_rows";

/// combine(acc, value), the body's own op with its flags.
Value combine(OpBuilder &b, RowReduction &r, Value acc, Value value) {
  Block &body = r.op.getRegion().front();
  IRMapping mapping;
  mapping.map(body.getArguments().back(), acc);
  mapping.map(r.product, value);
  return b.clone(*r.combine, mapping)->getResult(0);
}

/// Elements per step of a lane: one 16-byte load of the narrowest operand
/// read along k (8 bf16 weights, 4 f32) when K splits so and every such
/// operand's rows are aligned to it, fewer otherwise (1: scalar loads).
int64_t loadWidth(linalg::GenericOp op, int64_t depth, int64_t maxBytes) {
  unsigned k = op.getNumLoops() - 1;
  SmallVector<Value> alongK;
  for (OpOperand *input : op.getDpsInputOperands())
    if (readsAlongK(op, input, k))
      alongK.push_back(input->get());
  int64_t bytes = maxBytes;
  for (Value input : alongK)
    bytes = std::min<int64_t>(
        bytes, cast<MemRefType>(input.getType()).getElementTypeBitWidth() / 8);
  for (int64_t width = maxBytes / bytes; width > 1; width /= 2)
    if (!ShapedType::isDynamic(depth) && depth % width == 0 &&
        llvm::all_of(alongK,
                     [&](Value input) { return rowsAligned(input, width); }))
      return width;
  return 1;
}

/// `value` combined over the warp's `lanes` lanes, in every lane.
Value warpCombine(OpBuilder &b, Location loc, RowReduction &r, Value value,
                  int64_t lanes) {
  return mlir::llama::warps::allLanes(
      b, loc, value, lanes,
      [&](OpBuilder &b, Location, Value acc, Value other) {
        return combine(b, r, acc, other);
      });
}

/// The body's ops (but `skip`) whose operands are k-free inputs, values
/// from outside or such ops: computed once per row, before the loop along k
/// (RMSNorm's rsqrt of a row's sum, fused into a projection).
DenseSet<Operation *> invariantOps(linalg::GenericOp op, Operation *skip) {
  Block &body = op.getRegion().front();
  unsigned k = op.getNumLoops() - 1;
  DenseSet<Operation *> invariant;
  for (Operation &inner : body.without_terminator())
    if (&inner != skip && llvm::all_of(inner.getOperands(), [&](Value v) {
          if (auto arg = dyn_cast<BlockArgument>(v))
            return arg.getOwner() != &body ||
                   (arg.getArgNumber() < op.getNumDpsInputs() &&
                    !readsAlongK(op, op.getDpsInputOperand(arg.getArgNumber()),
                                 k));
          return v.getParentBlock() != &body ||
                 invariant.contains(v.getDefiningOp());
        }))
      invariant.insert(&inner);
  return invariant;
}

/// Values of buffers at the warp's point (one per row of a reduction with
/// rows) a chain's reductions left in registers, by buffer.
using KnownValues = DenseMap<Value, SmallVector<Value>>;

/// The element of `input` at `indices` for row `m`: the chain's register
/// when `known` holds it, else a load.
Value inputAt(OpBuilder &b, Location loc, const KnownValues &known,
              OpOperand *input, size_t m, ValueRange indices) {
  auto it = known.find(input->get());
  if (it != known.end())
    return it->second[m];
  return memref::LoadOp::create(b, loc, input->get(), indices);
}

/// The folded sum's partial `acc` combined with its product of the reader's
/// `elements` (per input, per lane element) at element `i`.
Value foldStep(OpBuilder &b, FoldedSum &fold, Value acc,
               ArrayRef<SmallVector<Value>> elements, int64_t i) {
  linalg::GenericOp sum = fold.sum.op;
  Block &body = sum.getRegion().front();
  IRMapping mapping;
  for (auto [arg, readerInput] :
       llvm::zip_equal(body.getArguments().take_front(sum.getNumDpsInputs()),
                       fold.rowInputs))
    mapping.map(arg, elements[readerInput][i]);
  for (Operation &inner : body.without_terminator())
    if (&inner != fold.sum.combine)
      b.clone(inner, mapping);
  return combine(b, fold.sum, acc, mapping.lookup(fold.sum.product));
}

/// The folded sum's factor, from the sum's value `total`.
Value factorOf(OpBuilder &b, FoldedSum &fold, Value total) {
  IRMapping mapping;
  mapping.map(fold.factor.getParentBlock()->getArgument(fold.sumInput), total);
  for (Operation *op : fold.factorOps)
    b.clone(*op, mapping);
  return mapping.lookup(fold.factor);
}

/// One lane's partial results over its steps of k, one per row (one when
/// there are no rows), for the output point whose loop indices but k are
/// `point` (entries for loops 0..k-1), loop 0 at `rowIndices` for the rows.
/// Inputs without k in `known` are not loaded. With `fold`, the products
/// leave out its factor, and the partial sums of the folded sum follow,
/// one per row.
SmallVector<Value> laneResults(OpBuilder &b, Location loc, RowReduction &r,
                               Value lane, SmallVector<Value> point,
                               ArrayRef<Value> rowIndices, Value depth,
                               Walk walk, const KnownValues &known,
                               std::optional<FoldedSum> fold) {
  int64_t width = walk.width;
  linalg::GenericOp op = r.op;
  Block &body = op.getRegion().front();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  int64_t rows = std::max<int64_t>(r.rows, 1);
  auto indicesFor = [&](OpOperand *input, int64_t m, Value kv) {
    SmallVector<Value> at(point);
    if (r.rows)
      at[0] = rowIndices[m];
    at.push_back(kv);
    return indicesAt(op, input, at);
  };
  auto usesRows = [&](OpOperand *input) {
    return r.rows && op.getMatchingIndexingMap(input).isFunctionOfDim(0);
  };
  // A folded sum's factor is 1 in the products (its ops are not computed
  // here), and its result is not read.
  DenseSet<Operation *> factorOps;
  Value unit;
  if (fold) {
    factorOps.insert(fold->factorOps.begin(), fold->factorOps.end());
    unit = arith::ConstantOp::create(
        b, loc, FloatAttr::get(fold->factor.getType(), 1.0));
  }
  // Inputs without k: one element per row and point, before the loop.
  SmallVector<SmallVector<Value>> fixed(
      rows, SmallVector<Value>(op.getNumDpsInputs()));
  for (OpOperand *input : op.getDpsInputOperands())
    if (!readsAlongK(op, input, r.k()))
      for (int64_t m = 0; m < rows; ++m)
        fixed[m][input->getOperandNumber()] =
            fold && input->getOperandNumber() == fold->sumInput
                ? unit
                : inputAt(b, loc, known, input, m,
                          indicesFor(input, m, nullptr));
  DenseSet<Operation *> invariant = invariantOps(op, r.combine);
  for (Operation *factorOp : factorOps)
    invariant.erase(factorOp);
  SmallVector<IRMapping> perRow(rows);
  for (int64_t m = 0; m < rows; ++m) {
    for (OpOperand *input : op.getDpsInputOperands())
      if (!readsAlongK(op, input, r.k()))
        perRow[m].map(op.getMatchingBlockArgument(input),
                      fixed[m][input->getOperandNumber()]);
    if (fold)
      perRow[m].map(fold->factor, unit);
    for (Operation &inner : body.without_terminator())
      if (invariant.contains(&inner))
        b.clone(inner, perRow[m]);
  }
  Value identity = arith::ConstantOp::create(b, loc, r.identity);
  SmallVector<Value> start(rows, identity);
  if (fold)
    start.append(rows, arith::ConstantOp::create(b, loc, fold->sum.identity));
  Value first = arith::MulIOp::create(b, loc, lane, index(width));
  auto loop = scf::ForOp::create(
      b, loc, first, depth, index(walk.lanes * width), start,
      [&](OpBuilder &b, Location loc, Value kv, ValueRange partial) {
        // Inputs along k without rows: loaded once for every row.
        SmallVector<SmallVector<Value>> shared(op.getNumDpsInputs());
        for (OpOperand *input : op.getDpsInputOperands())
          if (readsAlongK(op, input, r.k()) && !usesRows(input))
            shared[input->getOperandNumber()] =
                loadRow(b, loc, input->get(), indicesFor(input, 0, kv), width);
        SmallVector<Value> next(partial);
        for (int64_t m = 0; m < rows; ++m) {
          SmallVector<SmallVector<Value>> elements(shared);
          for (OpOperand *input : op.getDpsInputOperands()) {
            unsigned j = input->getOperandNumber();
            if (!readsAlongK(op, input, r.k()))
              elements[j].assign(width, fixed[m][j]);
            else if (usesRows(input))
              elements[j] = loadRow(b, loc, input->get(),
                                    indicesFor(input, m, kv), width);
          }
          for (int64_t i = 0; i < width; ++i) {
            IRMapping mapping = perRow[m];
            for (unsigned j = 0; j < op.getNumDpsInputs(); ++j)
              mapping.map(body.getArgument(j), elements[j][i]);
            for (Operation &inner : body.without_terminator())
              if (&inner != r.combine && !invariant.contains(&inner) &&
                  !factorOps.contains(&inner))
                b.clone(inner, mapping);
            next[m] = combine(b, r, next[m], mapping.lookup(r.product));
            if (fold)
              next[rows + m] = foldStep(b, *fold, next[rows + m], elements, i);
          }
        }
        scf::YieldOp::create(b, loc, next);
      });
  loop->setAttr(kLaneWalkRows, b.getI64IntegerAttr(rows));
  return loop.getResults();
}

/// A row map's elements of the point `point` (loop indices but k): each
/// lane computes and stores the elements of its steps along k, the same
/// ones it read in the chain's reductions. Inputs without k in `known` are
/// not loaded.
void laneMap(OpBuilder &b, Location loc, linalg::GenericOp op, Value lane,
             ArrayRef<Value> point, Value depth, Walk walk,
             const KnownValues &known) {
  int64_t width = walk.width;
  Block &body = op.getRegion().front();
  unsigned k = op.getNumLoops() - 1;
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto indicesFor = [&](OpOperand *operand, Value kv) {
    SmallVector<Value> at(point);
    at.push_back(kv);
    return indicesAt(op, operand, at);
  };
  IRMapping invariantMapping;
  for (OpOperand *input : op.getDpsInputOperands())
    if (!readsAlongK(op, input, k))
      invariantMapping.map(
          op.getMatchingBlockArgument(input),
          inputAt(b, loc, known, input, 0, indicesFor(input, nullptr)));
  DenseSet<Operation *> invariant = invariantOps(op, nullptr);
  for (Operation &inner : body.without_terminator())
    if (invariant.contains(&inner))
      b.clone(inner, invariantMapping);
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Value first = arith::MulIOp::create(b, loc, lane, index(width));
  auto loop = scf::ForOp::create(
      b, loc, first, depth, index(walk.lanes * width), ValueRange{},
      [&](OpBuilder &b, Location loc, Value kv, ValueRange) {
        SmallVector<SmallVector<Value>> elements(op.getNumDpsInputs());
        for (OpOperand *input : op.getDpsInputOperands())
          if (readsAlongK(op, input, k))
            elements[input->getOperandNumber()] =
                loadRow(b, loc, input->get(), indicesFor(input, kv), width);
        SmallVector<SmallVector<Value>> results(op.getNumDpsInits());
        for (int64_t i = 0; i < width; ++i) {
          IRMapping mapping = invariantMapping;
          for (unsigned j = 0; j < op.getNumDpsInputs(); ++j)
            if (!elements[j].empty())
              mapping.map(body.getArgument(j), elements[j][i]);
          for (Operation &inner : body.without_terminator())
            if (!invariant.contains(&inner))
              b.clone(inner, mapping);
          for (auto [result, value] :
               llvm::zip_equal(results, yield.getValues()))
            result.push_back(mapping.lookupOrDefault(value));
        }
        for (auto [init, values] :
             llvm::zip_equal(op.getDpsInitsMutable(), results))
          storeRow(b, loc, init.get(), indicesFor(&init, kv), values);
        scf::YieldOp::create(b, loc);
      });
  loop->setAttr(kLaneWalkRows, b.getI64IntegerAttr(1));
}

/// A map of the point (`point`, loop 0 at each of `rows` for a chain with
/// rows) from the chain's results in registers and loads of the rest.
void pointMap(OpBuilder &b, Location loc, linalg::GenericOp op,
              ArrayRef<Value> point, ArrayRef<Value> rows,
              const KnownValues &known) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  for (size_t m = 0; m < std::max<size_t>(rows.size(), 1); ++m) {
    SmallVector<Value> at(point);
    if (!rows.empty())
      at[0] = rows[m];
    auto indicesFor = [&](OpOperand *operand) {
      return indicesAt(op, operand, at);
    };
    IRMapping mapping;
    for (OpOperand *input : op.getDpsInputOperands())
      mapping.map(op.getMatchingBlockArgument(input),
                  inputAt(b, loc, known, input, m, indicesFor(input)));
    for (Operation &inner : body.without_terminator())
      b.clone(inner, mapping);
    for (auto [init, value] :
         llvm::zip_equal(op.getDpsInitsMutable(), yield.getValues()))
      memref::StoreOp::create(b, loc, mapping.lookupOrDefault(value),
                              init.get(), indicesFor(&init));
  }
}

/// The chain's stages for the point `point`, loop 0 at `rows` for a
/// reduction's rows (in range where `rowInRange` says, for row blocks).
void emitStages(OpBuilder &b, Location loc, Chain &chain, Value lane,
                ArrayRef<Value> point, ArrayRef<Value> rows,
                ArrayRef<Value> rowInRange, Value depth, Walk walk) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value leader =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane, zero);
  KnownValues known;
  for (Stage &stage : chain) {
    if (stage.kind == StageKind::RowMap) {
      laneMap(b, loc, stage.op, lane, point, depth, walk, known);
      continue;
    }
    if (stage.kind == StageKind::PointMap) {
      scf::IfOp::create(b, loc, leader, [&](OpBuilder &b, Location loc) {
        pointMap(b, loc, stage.op, point, rows, known);
        scf::YieldOp::create(b, loc);
      });
      continue;
    }
    RowReduction &r = *stage.reduction;
    SmallVector<Value> partials =
        laneResults(b, loc, r, lane, SmallVector<Value>(point), rows, depth,
                    walk, known, stage.fold);
    size_t perRow = partials.size() / (stage.fold ? 2 : 1);
    SmallVector<Value> totals;
    for (size_t m = 0; m < perRow; ++m) {
      Value total = warpCombine(b, loc, r, partials[m], walk.lanes);
      if (stage.fold) { // times the factor of the sum, now complete
        FoldedSum &fold = *stage.fold;
        Value sum = combine(
            b, fold.sum, fold.start,
            warpCombine(b, loc, fold.sum, partials[perRow + m], walk.lanes));
        total = arith::MulFOp::create(b, loc, total, factorOf(b, fold, sum));
      }
      totals.push_back(total);
    }
    // From a fill: the result in every lane, for the stages after.
    SmallVector<Value> results;
    if (stage.start) {
      for (Value total : totals)
        results.push_back(combine(b, r, stage.start, total));
      known[r.out] = results;
    }
    scf::IfOp::create(b, loc, leader, [&](OpBuilder &b, Location loc) {
      for (size_t m = 0; m < totals.size(); ++m) {
        SmallVector<Value> at(point);
        if (r.rows)
          at[0] = rows[m];
        auto store = [&](OpBuilder &b, Location loc) {
          Value result =
              stage.start
                  ? results[m]
                  : combine(b, r, memref::LoadOp::create(b, loc, r.out, at),
                            totals[m]);
          memref::StoreOp::create(b, loc, result, r.out, at);
        };
        mlir::llama::warps::guarded(
            b, loc, r.rowBlocks ? rowInRange[m] : Value(), store);
      }
      scf::YieldOp::create(b, loc);
    });
  }
}

void rewrite(Chain &chain, int64_t lanes, int64_t maxLoadBytes) {
  RowReduction &r = *chain.front().reduction;
  linalg::GenericOp op = r.op;
  for (Stage &stage : chain)
    if (stage.reduction)
      stage.start = takeFill(stage.op, stage.reduction->out);
  OpBuilder b(chain.back().op); // after what the later stages use
  Location loc = op.getLoc();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  SmallVector<Value> sizes;
  for (Range range : ranges)
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
  Value depth = sizes[r.k()];
  // One lane-to-k assignment for all stages: each element of the row is
  // read and written by one lane.
  int64_t staticDepth =
      getConstantIntValue(ranges[r.k()].size).value_or(ShapedType::kDynamic);
  int64_t width = maxLoadBytes;
  for (Stage &stage : chain)
    if (stage.kind != StageKind::PointMap) // reads nothing along k
      width = std::min(width, loadWidth(stage.op, staticDepth, maxLoadBytes));
  for (Stage &stage : chain)
    for (Value init : stage.op.getDpsInits())
      while (stage.kind == StageKind::RowMap && width > 1 &&
             !rowsAligned(init, width))
        width /= 2;
  // The columns: the points of the loops but k (and a whole row loop),
  // flattened; loop 0 counts blocks of rows when it is split so.
  SmallVector<Value> pointSizes(sizes);
  if (r.rowBlocks)
    pointSizes[0] = arith::CeilDivUIOp::create(b, loc, sizes[0], index(r.rows));
  Value columns = pointSizes[r.firstColumnLoop()];
  for (unsigned d = r.firstColumnLoop() + 1; d < r.k(); ++d)
    columns = arith::MulIOp::create(b, loc, columns, pointSizes[d]);
  Value zero = index(0), one = index(1);
  auto warpBody = [&](OpBuilder &b, Location loc, Value lane, Value column) {
    // The point's loop indices, the last column loop fastest.
    SmallVector<Value> point(r.k(), zero);
    Value rest = column;
    for (unsigned d = r.k() - 1; d > r.firstColumnLoop(); --d) {
      point[d] = arith::RemUIOp::create(b, loc, rest, pointSizes[d]);
      rest = arith::DivUIOp::create(b, loc, rest, pointSizes[d]);
    }
    point[r.firstColumnLoop()] = rest; // < its size
    // The rows' indices in loop 0; a block's rows past the end read the
    // last row and store nothing.
    SmallVector<Value> rows, rowInRange;
    for (int64_t m = 0; m < r.rows; ++m) {
      if (!r.rowBlocks) {
        rows.push_back(index(m));
        continue;
      }
      Value row = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, point[0], index(r.rows)),
          index(m));
      rowInRange.push_back(arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::ult, row, sizes[0]));
      rows.push_back(arith::MinUIOp::create(
          b, loc, row, arith::SubIOp::create(b, loc, sizes[0], one)));
    }
    emitStages(b, loc, chain, lane, point, rows, rowInRange, depth,
               Walk{lanes, width});
  };
  mlir::llama::warps::warpPerPoint(b, loc, columns, lanes, warpBody);
  for (Stage &stage : chain)
    stage.op->erase();
}

struct WarpContractionsPass
    : mlir::llama::impl::LlamaWarpContractionsPassBase<WarpContractionsPass> {
  using LlamaWarpContractionsPassBase::LlamaWarpContractionsPassBase;

  void runOnOperation() override {
    // Sums every reader recomputes (RMSNorm's before decode's projections)
    // leave the block; their readers fold them in.
    DenseMap<Operation *, FoldedSum> folds;
    SmallVector<Operation *> folded;
    for (linalg::GenericOp op : mlir::llama::hostGenerics(getOperation())) {
      std::optional<RowReduction> r = matchRowReduction(op);
      DenseMap<Operation *, FoldedSum> readers =
          r ? matchFoldedSum(*r) : DenseMap<Operation *, FoldedSum>();
      if (readers.empty())
        continue;
      Value start = takeFill(op, r->out);
      for (auto &[reader, fold] : readers) {
        fold.start = start;
        folds.try_emplace(reader, fold);
      }
      op->remove();
      folded.push_back(op);
    }
    // A chain's later stages are gone when the walk reaches them.
    DenseSet<Operation *> done;
    for (linalg::GenericOp op : mlir::llama::hostGenerics(getOperation())) {
      if (done.contains(op))
        continue;
      std::optional<RowReduction> r = matchRowReduction(op);
      if (!r)
        continue;
      Chain chain = matchChain(*r);
      for (Stage &stage : chain) {
        done.insert(stage.op);
        if (auto it = folds.find(stage.op); it != folds.end())
          stage.fold = it->second;
      }
      rewrite(chain, warpSize, maxLoadBytes);
    }
    for (Operation *op : folded)
      op->destroy();
    // Steps unrolled together have independent loads in flight: one at a
    // time, decode's few warps per SM would leave HBM mostly idle. A step
    // keeps a load per row live: fewer steps at once for more rows.
    SmallVector<scf::ForOp> walks;
    getOperation().walk([&](scf::ForOp loop) {
      if (loop->hasAttr(kLaneWalkRows))
        walks.push_back(loop);
    });
    for (scf::ForOp loop : walks) {
      int64_t rows = loop->getAttrOfType<IntegerAttr>(kLaneWalkRows).getInt();
      loop->removeAttr(kLaneWalkRows);
      int64_t factor = std::max<int64_t>(1, loadsInFlight / rows);
      if (factor > 1)
        (void)loopUnrollByFactor(loop, factor);
    }
  }
};

} // namespace
