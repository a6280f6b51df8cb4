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
// Runs on buffers, before the loops become kernels: the result is a
// parallel loop over blocks holding one over (lane, warp) threads, which
// gpu-map-parallel-loops maps to the grid and to threads (x = lane).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAWARPCONTRACTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using mlir::llama::kMaxGemvRows;
using mlir::llama::rowsAligned;
using mlir::llama::takeFill;

namespace {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpsPerBlock = 4;
/// The widest load a lane issues (ld.global.v4.b32).
constexpr int64_t kMaxLoadBytes = 16;

/// A matched reduction: loops (p.., k), out [p..] = combine(out, f(ins))
/// over k, each input indexed by some of the loops, k last if at all.
struct RowReduction {
  linalg::GenericOp op;
  Value out;
  int64_t rows = 0; // rows of loop 0 each lane keeps a result for; 0: none
  bool rowBlocks = false; // loop 0 (run-time or long) in blocks of `rows`
  Operation *combine;     // combine(out, f(ins)): the body's last op
  Value product;          // f(ins) in the body
  TypedAttr identity;     // combine's neutral element
  unsigned loops = 0;     // the generic's; the last is k
  unsigned k() const { return loops - 1; }
  /// The loops a warp's column index enumerates.
  unsigned firstColumnLoop() const { return rows && !rowBlocks ? 1 : 0; }
};

bool readsAlongK(linalg::GenericOp op, OpOperand *input, unsigned k) {
  return op.getMatchingIndexingMap(input).isFunctionOfDim(k);
}

/// The neutral element of a combiner the warp can apply in any order.
TypedAttr identityOf(Operation *combine) {
  auto type = cast<FloatType>(combine->getResult(0).getType());
  if (isa<arith::AddFOp>(combine))
    return FloatAttr::get(type, 0.0);
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(combine))
    return FloatAttr::get(type,
                          APFloat::getInf(type.getFloatSemantics(), true));
  return nullptr;
}

std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  unsigned loops = op.getNumLoops();
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || loops < 2 || op.hasIndexSemantics())
    return std::nullopt;
  unsigned k = loops - 1;
  if (op.getIteratorTypesArray()[k] != utils::IteratorType::reduction)
    return std::nullopt;
  RowReduction r;
  r.op = op;
  r.loops = loops;
  r.out = op.getDpsInits()[0];
  auto outType = cast<MemRefType>(r.out.getType());
  if (!outType.getElementType().isF32() ||
      op.getMatchingIndexingMap(op.getDpsInitOperand(0)) !=
          AffineMap::getMultiDimIdentityMap(loops, op.getContext())
              .getMajorSubMap(k))
    return std::nullopt;
  // Inputs: distinct loops each, k (if read) as the contiguous last dim.
  bool anyAlongK = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isProjectedPermutation())
      return std::nullopt;
    if (!readsAlongK(op, input, k))
      continue;
    if (map.getDimPosition(map.getNumResults() - 1) != k)
      return std::nullopt;
    anyAlongK = true;
  }
  if (!anyAlongK)
    return std::nullopt;
  // Rows: loop 0 when some input does not read it (a weight, loaded once
  // for all rows): all of it when small and static (decode), else blocks of
  // kMaxGemvRows rows (prefill), each block a point.
  int64_t first = outType.getDimSize(0);
  if (k >= 2 && llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *input) {
        return !op.getMatchingIndexingMap(input).isFunctionOfDim(0);
      })) {
    r.rowBlocks = ShapedType::isDynamic(first) || first > kMaxGemvRows;
    r.rows = r.rowBlocks ? kMaxGemvRows : first;
  }
  // The body: yield combine(out, f(ins)), f not reading out.
  Block &body = op.getRegion().front();
  Value outArg = body.getArguments().back();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  r.combine = yield.getValues()[0].getDefiningOp();
  if (!r.combine || r.combine->getNextNode() != yield ||
      r.combine->getNumOperands() != 2 || !(r.identity = identityOf(r.combine)))
    return std::nullopt;
  if (r.combine->getOperand(0) == outArg)
    r.product = r.combine->getOperand(1);
  else if (r.combine->getOperand(1) == outArg)
    r.product = r.combine->getOperand(0);
  else
    return std::nullopt;
  for (Operation &inner : body.without_terminator())
    if (&inner != r.combine && llvm::is_contained(inner.getOperands(), outArg))
      return std::nullopt;
  return r;
}

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
int64_t loadWidth(RowReduction &r, int64_t depth) {
  SmallVector<Value> alongK;
  for (OpOperand *input : r.op.getDpsInputOperands())
    if (readsAlongK(r.op, input, r.k()))
      alongK.push_back(input->get());
  int64_t bytes = kMaxLoadBytes;
  for (Value input : alongK)
    bytes = std::min<int64_t>(
        bytes, cast<MemRefType>(input.getType()).getElementTypeBitWidth() / 8);
  for (int64_t width = kMaxLoadBytes / bytes; width > 1; width /= 2)
    if (!ShapedType::isDynamic(depth) && depth % width == 0 &&
        llvm::all_of(alongK,
                     [&](Value input) { return rowsAligned(input, width); }))
      return width;
  return 1;
}

/// `width` elements of `buffer` at `indices` (the last one k) on, as
/// scalars.
SmallVector<Value> loadRow(OpBuilder &b, Location loc, Value buffer,
                           ValueRange indices, int64_t width) {
  if (width == 1)
    return {memref::LoadOp::create(b, loc, buffer, indices)};
  Type element = cast<MemRefType>(buffer.getType()).getElementType();
  auto vectorType = VectorType::get({width}, element);
  // Rows are aligned to `width` elements; more than 16 bytes (f32
  // activations next to bf16 weights) are several 16-byte loads.
  int64_t bytes = std::min<int64_t>(width * element.getIntOrFloatBitWidth() / 8,
                                    kMaxLoadBytes);
  Value vector =
      vector::LoadOp::create(b, loc, vectorType, buffer, indices,
                             /*nontemporal=*/false, llvm::MaybeAlign(bytes));
  SmallVector<Value> scalars;
  for (int64_t i = 0; i < width; ++i)
    scalars.push_back(vector::ExtractOp::create(b, loc, vector, i));
  return scalars;
}

/// `value` combined over the warp's lanes, in every lane.
Value warpCombine(OpBuilder &b, Location loc, RowReduction &r, Value value) {
  Value width = arith::ConstantIntOp::create(b, loc, kWarpSize, 32);
  for (int64_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Value distance = arith::ConstantIntOp::create(b, loc, offset, 32);
    Value other = gpu::ShuffleOp::create(b, loc, value, distance, width,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    value = combine(b, r, value, other);
  }
  return value;
}

/// One lane's partial results over its steps of k, one per row (one when
/// there are no rows), for the output point whose loop indices but k are
/// `point` (entries for loops 0..k-1), loop 0 at `rowIndices` for the rows.
SmallVector<Value> laneResults(OpBuilder &b, Location loc, RowReduction &r,
                               Value lane, SmallVector<Value> point,
                               ArrayRef<Value> rowIndices, Value depth,
                               int64_t width) {
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
    SmallVector<Value> indices;
    for (AffineExpr e : op.getMatchingIndexingMap(input).getResults())
      indices.push_back(at[cast<AffineDimExpr>(e).getPosition()]);
    return indices;
  };
  auto usesRows = [&](OpOperand *input) {
    return r.rows && op.getMatchingIndexingMap(input).isFunctionOfDim(0);
  };
  // Inputs without k: one element per row and point, before the loop.
  SmallVector<SmallVector<Value>> fixed(
      rows, SmallVector<Value>(op.getNumDpsInputs()));
  for (OpOperand *input : op.getDpsInputOperands())
    if (!readsAlongK(op, input, r.k()))
      for (int64_t m = 0; m < rows; ++m)
        fixed[m][input->getOperandNumber()] = memref::LoadOp::create(
            b, loc, input->get(), indicesFor(input, m, nullptr));
  // What the body computes from those alone (RMSNorm's rsqrt of a row's
  // sum, fused into a projection): once per row, before the loop.
  DenseSet<Operation *> invariant;
  for (Operation &inner : body.without_terminator())
    if (&inner != r.combine && llvm::all_of(inner.getOperands(), [&](Value v) {
          if (auto arg = dyn_cast<BlockArgument>(v))
            return arg.getOwner() != &body ||
                   (arg.getArgNumber() < op.getNumDpsInputs() &&
                    !readsAlongK(op, op.getDpsInputOperand(arg.getArgNumber()),
                                 r.k()));
          return v.getParentBlock() != &body ||
                 invariant.contains(v.getDefiningOp());
        }))
      invariant.insert(&inner);
  SmallVector<IRMapping> perRow(rows);
  for (int64_t m = 0; m < rows; ++m) {
    for (OpOperand *input : op.getDpsInputOperands())
      if (!readsAlongK(op, input, r.k()))
        perRow[m].map(op.getMatchingBlockArgument(input),
                      fixed[m][input->getOperandNumber()]);
    for (Operation &inner : body.without_terminator())
      if (invariant.contains(&inner))
        b.clone(inner, perRow[m]);
  }
  Value identity = arith::ConstantOp::create(b, loc, r.identity);
  Value first = arith::MulIOp::create(b, loc, lane, index(width));
  auto loop = scf::ForOp::create(
      b, loc, first, depth, index(kWarpSize * width),
      SmallVector<Value>(rows, identity),
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
              if (&inner != r.combine && !invariant.contains(&inner))
                b.clone(inner, mapping);
            next[m] = combine(b, r, next[m], mapping.lookup(r.product));
          }
        }
        scf::YieldOp::create(b, loc, next);
      });
  return loop.getResults();
}

void rewrite(RowReduction &r) {
  linalg::GenericOp op = r.op;
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value start = takeFill(op, r.out);
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  SmallVector<Value> sizes;
  for (Range range : ranges)
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
  Value depth = sizes[r.k()];
  int64_t width = loadWidth(
      r,
      getConstantIntValue(ranges[r.k()].size).value_or(ShapedType::kDynamic));
  // The columns: the points of the loops but k (and a whole row loop),
  // flattened; loop 0 counts blocks of rows when it is split so.
  SmallVector<Value> pointSizes(sizes);
  if (r.rowBlocks)
    pointSizes[0] = arith::CeilDivUIOp::create(b, loc, sizes[0], index(r.rows));
  Value columns = pointSizes[r.firstColumnLoop()];
  for (unsigned d = r.firstColumnLoop() + 1; d < r.k(); ++d)
    columns = arith::MulIOp::create(b, loc, columns, pointSizes[d]);
  Value zero = index(0), one = index(1);
  Value blocks =
      arith::CeilDivUIOp::create(b, loc, columns, index(kWarpsPerBlock));

  scf::ParallelOp::create(
      b, loc, ValueRange{zero}, ValueRange{blocks}, ValueRange{one},
      [&](OpBuilder &b, Location loc, ValueRange block) {
        scf::ParallelOp::create(
            b, loc, ValueRange{zero, zero},
            ValueRange{index(kWarpSize), index(kWarpsPerBlock)},
            ValueRange{one, one},
            [&](OpBuilder &b, Location loc, ValueRange thread) {
              Value lane = thread[0], warp = thread[1];
              Value column = arith::AddIOp::create(
                  b, loc,
                  arith::MulIOp::create(b, loc, block[0],
                                        index(kWarpsPerBlock)),
                  warp);
              // Per warp: the shuffles below see all 32 lanes.
              Value inRange = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::ult, column, columns);
              scf::IfOp::create(
                  b, loc, inRange, [&](OpBuilder &b, Location loc) {
                    // The point's loop indices, the last column loop fastest.
                    SmallVector<Value> point(r.k(), zero);
                    Value rest = column;
                    for (unsigned d = r.k() - 1; d > r.firstColumnLoop(); --d) {
                      point[d] =
                          arith::RemUIOp::create(b, loc, rest, pointSizes[d]);
                      rest =
                          arith::DivUIOp::create(b, loc, rest, pointSizes[d]);
                    }
                    point[r.firstColumnLoop()] = rest; // < its size
                    // The rows' indices in loop 0; a block's rows past the
                    // end read the last row and store nothing.
                    SmallVector<Value> rows, rowInRange;
                    for (int64_t m = 0; m < r.rows; ++m) {
                      if (!r.rowBlocks) {
                        rows.push_back(index(m));
                        continue;
                      }
                      Value row = arith::AddIOp::create(
                          b, loc,
                          arith::MulIOp::create(b, loc, point[0],
                                                index(r.rows)),
                          index(m));
                      rowInRange.push_back(arith::CmpIOp::create(
                          b, loc, arith::CmpIPredicate::ult, row, sizes[0]));
                      rows.push_back(arith::MinUIOp::create(
                          b, loc, row,
                          arith::SubIOp::create(b, loc, sizes[0], one)));
                    }
                    SmallVector<Value> totals;
                    for (Value partial : laneResults(b, loc, r, lane, point,
                                                     rows, depth, width))
                      totals.push_back(warpCombine(b, loc, r, partial));
                    Value leader = arith::CmpIOp::create(
                        b, loc, arith::CmpIPredicate::eq, lane, zero);
                    scf::IfOp::create(
                        b, loc, leader, [&](OpBuilder &b, Location loc) {
                          for (size_t m = 0; m < totals.size(); ++m) {
                            Value total = totals[m];
                            SmallVector<Value> at(point);
                            if (r.rows)
                              at[0] = rows[m];
                            auto store = [&](OpBuilder &b, Location loc) {
                              Value base = start ? start
                                                 : memref::LoadOp::create(
                                                       b, loc, r.out, at)
                                                       .getResult();
                              memref::StoreOp::create(
                                  b, loc, combine(b, r, base, total), r.out,
                                  at);
                            };
                            if (!r.rowBlocks) {
                              store(b, loc);
                              continue;
                            }
                            scf::IfOp::create(b, loc, rowInRange[m],
                                              [&](OpBuilder &b, Location loc) {
                                                store(b, loc);
                                                scf::YieldOp::create(b, loc);
                                              });
                          }
                          scf::YieldOp::create(b, loc);
                        });
                    scf::YieldOp::create(b, loc);
                  });
            });
      });
  op->erase();
}

struct WarpContractionsPass
    : mlir::llama::impl::LlamaWarpContractionsPassBase<WarpContractionsPass> {
  void runOnOperation() override {
    for (linalg::GenericOp op : mlir::llama::hostGenerics(getOperation()))
      if (std::optional<RowReduction> r = matchRowReduction(op))
        rewrite(*r);
  }
};

} // namespace
