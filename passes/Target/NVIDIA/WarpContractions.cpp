//===- WarpContractions.cpp - reductions along rows as warp reductions ----===//
//
// A reduction along the contiguous dim k, out[n] += f(x[n, k]) (RMSNorm's
// sum of squares) or out[m, n] += f(x[m, k], w[n, k]) over a few rows M
// (decode's projections, the LM head), is a pass over memory: its speed is
// how fast the operands stream. Mapped like any loop nest, a thread per
// output element would walk its row alone, K serial steps with
// neighbouring threads a row apart: no coalescing, and one thread for a
// norm's whole row. Here a warp owns an output column n instead. Its 32
// lanes read the row's contiguous K in vectors of up to 16 bytes (a warp
// reads 512 consecutive bytes at a step), each lane keeps a partial sum
// per row m (an operand without m, the weight, is loaded once for all
// rows), five butterfly shuffles add them up across the warp, and lane 0
// writes. A block is 4 warps; the grid covers the columns. A linalg.fill of
// the output right before is folded in as the sums' start.
//
// Runs on buffers, before the loops become kernels: the result is a
// parallel loop over blocks holding one over (lane, warp) threads, which
// gpu-map-parallel-loops maps to the grid and to threads (x = lane).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

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

namespace {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpsPerBlock = 4;
/// Rows up to which a contraction streams its weight once for all of them
/// (each lane holds a partial sum per row).
constexpr int64_t kMaxRows = 8;
/// The widest load a lane issues (ld.global.v4.b32).
constexpr int64_t kMaxLoadBytes = 16;

/// A matched reduction: loops (n, k) or (m, n, k), out [(M,) N] += f(ins)
/// summed over k, each input indexed by some of m, n and then k.
struct RowReduction {
  linalg::GenericOp op;
  Value out;
  int64_t rows = 0;         // M; 0: no m loop
  arith::AddFOp accumulate; // out + f(ins): the body's last op
  Value product;            // f(ins) in the body
  unsigned k() const { return rows ? 2 : 1; }
};

/// The innermost stride is 1 and every other stride and the offset are
/// static multiples of `elements`: rows start `elements`-aligned (buffers
/// themselves are: the driver aligns allocations to 256 bytes).
bool rowsAligned(Value buffer, int64_t elements) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) || strides.back() != 1)
    return false;
  auto multiple = [&](int64_t v) {
    return !ShapedType::isDynamic(v) && v % elements == 0;
  };
  return multiple(offset) &&
         llvm::all_of(ArrayRef(strides).drop_back(), multiple);
}

/// Whether `map` selects distinct loops and ends with loop `k`: the operand's
/// last dim is the reduction, contiguous.
bool endsWithReduction(AffineMap map, unsigned k) {
  return map.getNumResults() > 0 && map.isProjectedPermutation() &&
         map.getDimPosition(map.getNumResults() - 1) == k;
}

std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || op.getNumLoops() > 3 ||
      op.getNumLoops() < 2 || op.hasIndexSemantics())
    return std::nullopt;
  unsigned k = op.getNumLoops() - 1;
  if (op.getIteratorTypesArray()[k] != utils::IteratorType::reduction)
    return std::nullopt;
  RowReduction r;
  r.op = op;
  r.out = op.getDpsInits()[0];
  auto outType = cast<MemRefType>(r.out.getType());
  if (!outType.getElementType().isF32() ||
      op.getMatchingIndexingMap(op.getDpsInitOperand(0)) !=
          AffineMap::getMultiDimIdentityMap(k + 1, op.getContext())
              .getMajorSubMap(k) ||
      outType.getRank() != k)
    return std::nullopt;
  if (k == 2) {
    r.rows = outType.getDimSize(0);
    if (ShapedType::isDynamic(r.rows) || r.rows > kMaxRows)
      return std::nullopt;
  }
  for (OpOperand *input : op.getDpsInputOperands())
    if (!endsWithReduction(op.getMatchingIndexingMap(input), k))
      return std::nullopt;
  // The body: yield (out + f(ins)), f not reading out.
  Block &body = op.getRegion().front();
  Value outArg = body.getArguments().back();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  r.accumulate = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!r.accumulate || r.accumulate->getNextNode() != yield)
    return std::nullopt;
  if (r.accumulate.getLhs() == outArg)
    r.product = r.accumulate.getRhs();
  else if (r.accumulate.getRhs() == outArg)
    r.product = r.accumulate.getLhs();
  else
    return std::nullopt;
  for (Operation &inner : body.without_terminator())
    if (&inner != r.accumulate.getOperation() &&
        llvm::is_contained(inner.getOperands(), outArg))
      return std::nullopt;
  return r;
}

/// Elements per step of a lane: one 16-byte load of the narrowest operand
/// (8 bf16 weights, 4 f32) when K splits so and every operand's rows are
/// aligned to it, fewer otherwise (1: scalar loads).
int64_t loadWidth(RowReduction &r, int64_t depth) {
  int64_t bytes = kMaxLoadBytes;
  for (Value input : r.op.getDpsInputs())
    bytes = std::min<int64_t>(
        bytes, cast<MemRefType>(input.getType()).getElementTypeBitWidth() / 8);
  for (int64_t width = kMaxLoadBytes / bytes; width > 1; width /= 2)
    if (!ShapedType::isDynamic(depth) && depth % width == 0 &&
        llvm::all_of(r.op.getDpsInputs(),
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

/// The sum of `value` over the warp's lanes, in every lane.
Value warpSum(OpBuilder &b, Location loc, Value value,
              arith::FastMathFlags fastMath) {
  Value width = arith::ConstantIntOp::create(b, loc, kWarpSize, 32);
  for (int64_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Value distance = arith::ConstantIntOp::create(b, loc, offset, 32);
    Value other = gpu::ShuffleOp::create(b, loc, value, distance, width,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    value = arith::AddFOp::create(b, loc, value, other, fastMath);
  }
  return value;
}

/// The value `out` is filled with when a linalg.fill of it comes right
/// before `op` (nothing with memory effects between), erasing the fill.
Value takeFill(linalg::GenericOp op, Value out) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getDpsInits()[0] != out)
        return nullptr;
      Value value = fill.getDpsInputs()[0]; // defined before the fill
      fill->erase();
      return value;
    }
    if (!isMemoryEffectFree(prev))
      return nullptr;
  }
  return nullptr;
}

/// One lane's partial sums over its steps of k, a sum per row (one when
/// there are no rows), for output column `n`.
SmallVector<Value> laneSums(OpBuilder &b, Location loc, RowReduction &r,
                            Value lane, Value n, Value depth, int64_t width) {
  linalg::GenericOp op = r.op;
  Block &body = op.getRegion().front();
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  int64_t rows = std::max<int64_t>(r.rows, 1);
  Value zero =
      arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(0.0f));
  Value first = arith::MulIOp::create(b, loc, lane, index(width));
  auto loop = scf::ForOp::create(
      b, loc, first, depth, index(kWarpSize * width),
      SmallVector<Value>(rows, zero),
      [&](OpBuilder &b, Location loc, Value kv, ValueRange partial) {
        // Each input's elements for row m (loaded once when it has no m).
        auto indicesFor = [&](OpOperand *input, Value m) {
          SmallVector<Value> indices;
          for (AffineExpr e : op.getMatchingIndexingMap(input).getResults()) {
            unsigned dim = cast<AffineDimExpr>(e).getPosition();
            indices.push_back(dim == r.k() ? kv : dim + 1 == r.k() ? n : m);
          }
          return indices;
        };
        auto usesRows = [&](OpOperand *input) {
          return r.rows && op.getMatchingIndexingMap(input).isFunctionOfDim(0);
        };
        SmallVector<SmallVector<Value>> shared(op.getNumDpsInputs());
        for (OpOperand *input : op.getDpsInputOperands())
          if (!usesRows(input))
            shared[input->getOperandNumber()] = loadRow(
                b, loc, input->get(), indicesFor(input, nullptr), width);
        SmallVector<Value> next(partial);
        for (int64_t m = 0; m < rows; ++m) {
          SmallVector<SmallVector<Value>> elements(shared);
          for (OpOperand *input : op.getDpsInputOperands())
            if (usesRows(input))
              elements[input->getOperandNumber()] = loadRow(
                  b, loc, input->get(), indicesFor(input, index(m)), width);
          for (int64_t i = 0; i < width; ++i) {
            IRMapping mapping;
            for (unsigned j = 0; j < op.getNumDpsInputs(); ++j)
              mapping.map(body.getArgument(j), elements[j][i]);
            for (Operation &inner : body.without_terminator())
              if (&inner != r.accumulate.getOperation())
                b.clone(inner, mapping);
            next[m] = arith::AddFOp::create(b, loc, next[m],
                                            mapping.lookup(r.product),
                                            r.accumulate.getFastmath());
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
  // K and the columns: the sizes of the generic's loops k and n.
  SmallVector<Range> loops =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  Value depth = getValueOrCreateConstantIndexOp(b, loc, loops[r.k()].size);
  Value columns =
      getValueOrCreateConstantIndexOp(b, loc, loops[r.k() - 1].size);
  int64_t width = loadWidth(
      r, getConstantIntValue(loops[r.k()].size).value_or(ShapedType::kDynamic));
  Value zero = index(0), one = index(1);
  Value blocks =
      arith::CeilDivUIOp::create(b, loc, columns, index(kWarpsPerBlock));
  auto fastMath = r.accumulate.getFastmath();

  scf::ParallelOp::create(
      b, loc, ValueRange{zero}, ValueRange{blocks}, ValueRange{one},
      [&](OpBuilder &b, Location loc, ValueRange block) {
        scf::ParallelOp::create(
            b, loc, ValueRange{zero, zero},
            ValueRange{index(kWarpSize), index(kWarpsPerBlock)},
            ValueRange{one, one},
            [&](OpBuilder &b, Location loc, ValueRange thread) {
              Value lane = thread[0], warp = thread[1];
              Value n = arith::AddIOp::create(
                  b, loc,
                  arith::MulIOp::create(b, loc, block[0],
                                        index(kWarpsPerBlock)),
                  warp);
              // Per warp: the shuffles below see all 32 lanes.
              Value inRange = arith::CmpIOp::create(
                  b, loc, arith::CmpIPredicate::ult, n, columns);
              scf::IfOp::create(
                  b, loc, inRange, [&](OpBuilder &b, Location loc) {
                    SmallVector<Value> totals;
                    for (Value partial :
                         laneSums(b, loc, r, lane, n, depth, width))
                      totals.push_back(warpSum(b, loc, partial, fastMath));
                    Value leader = arith::CmpIOp::create(
                        b, loc, arith::CmpIPredicate::eq, lane, zero);
                    scf::IfOp::create(
                        b, loc, leader, [&](OpBuilder &b, Location loc) {
                          for (auto [m, total] : llvm::enumerate(totals)) {
                            SmallVector<Value> at{n};
                            if (r.rows)
                              at.insert(at.begin(), index(m));
                            Value base =
                                start
                                    ? start
                                    : memref::LoadOp::create(b, loc, r.out, at)
                                          .getResult();
                            memref::StoreOp::create(
                                b, loc,
                                arith::AddFOp::create(b, loc, base, total,
                                                      fastMath),
                                r.out, at);
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
    SmallVector<RowReduction> reductions;
    getOperation().walk([&](linalg::GenericOp op) {
      // Only the host code's own loop nests: one inside a parallel loop
      // already has its threads.
      if (op->getParentOfType<scf::ForallOp>() ||
          op->getParentOfType<scf::ParallelOp>())
        return;
      if (std::optional<RowReduction> r = matchRowReduction(op))
        reductions.push_back(*r);
    });
    for (RowReduction &r : reductions)
      rewrite(r);
  }
};

} // namespace
