//===- FlashDecoding.cpp - decode attention as a split-key warp kernel ----===//
//
// Decode attention reaches the kernel stage as the five generics
// DecodeAttention.cpp builds, on buffers: scores [Hkv, G, L] = q . keys
// over D, their max and their sum of exponentials exp(c (s - max)) along
// the keys, the probabilities, and out [Hkv, G, D] = probabilities . values
// along the keys. As kernels of their own they store the scores and read
// them back three times, and the last one gives each of the Hkv * G * D
// output elements to one thread walking all L keys: a few thousand threads
// with a serial chain as long as the context.
//
// Here they become flash-decoding. The keys are split into ranges, enough
// for a few thousand warps at any length, and one warp takes a key/value
// head's range: its lanes hold the head's G query rows and their output
// rows along D, and walk the range in blocks of keys with an online
// softmax. A block's key and value rows are loaded together (many loads in
// flight), each score is summed over D by butterfly shuffles, and when the
// block raises the running max m the running sum l and output are rescaled
// by exp(c (m_old - m_new)). A range leaves its m, l and unnormalized
// output; a second kernel, a thread per output element, merges the ranges
// the same way and divides by the sum. Nothing of size [Hkv, G, L] is
// stored, and the keys and values are each read once.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"
#include "passes/Target/NVIDIA/Warps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Matchers.h"

#include <limits>

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFLASHDECODINGPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using mlir::llama::fillReaching;
using mlir::llama::rowsAligned;

namespace {

/// Warps the first kernel aims for: enough to fill a large GPU (132 SMs
/// with 16 resident warps each), so ranges shrink as heads grow.
constexpr int64_t kTargetWarps = 2048;
/// f32 elements of a row a lane loads at once (16 bytes).
constexpr int64_t kMaxLaneWidth = 4;

using utils::IteratorType;

/// The five generics of one decode attention, and what they compute with.
struct DecodeAttention {
  linalg::GenericOp scores, max, sum, probs, weighted;
  /// The fills of their outputs, erased with them.
  SmallVector<linalg::FillOp> fills;
  /// c in exp(c (s - max)): a value from outside the bodies, or an
  /// arith.constant in one of them.
  Value scale;

  Value query() { return scores.getDpsInputs()[0]; }    // [Hkv, G, D]
  Value keys() { return scores.getDpsInputs()[1]; }     // [L, Hkv, D]
  Value values() { return weighted.getDpsInputs()[1]; } // [L, Hkv, D]
  Value out() { return weighted.getDpsInits()[0]; }     // [Hkv, G, D]
  /// The buffers only the five pass between them.
  SmallVector<Value> intermediates() {
    SmallVector<Value> buffers = {scores.getDpsInits()[0], max.getDpsInits()[0],
                                  sum.getDpsInits()[0]};
    if (!llvm::is_contained(buffers, probs.getDpsInits()[0]))
      buffers.push_back(probs.getDpsInits()[0]);
    return buffers;
  }
};

/// Whether `op` has these iterators, one output, and operands indexed by
/// exactly these dims (inputs first).
bool hasForm(linalg::GenericOp op, ArrayRef<IteratorType> iterators,
             ArrayRef<SmallVector<unsigned>> operandDims) {
  if (ArrayRef(op.getIteratorTypesArray()) != iterators ||
      op.getNumDpsInits() != 1 || op->getNumOperands() != operandDims.size())
    return false;
  MLIRContext *ctx = op.getContext();
  for (auto [map, dims] : llvm::zip(op.getIndexingMapsArray(), operandDims)) {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, ctx));
    if (map != AffineMap::get(iterators.size(), 0, exprs, ctx))
      return false;
  }
  return true;
}

bool isArgument(linalg::GenericOp op, Value v, unsigned n) {
  auto arg = dyn_cast<BlockArgument>(v);
  return arg && arg.getOwner() == &op.getRegion().front() &&
         arg.getArgNumber() == n;
}

/// The op defining the one value the body yields, if an OpTy.
template <typename OpTy> OpTy yielded(linalg::GenericOp op) {
  Operation *yield = op.getRegion().front().getTerminator();
  return yield->getNumOperands() == 1
             ? yield->getOperand(0).getDefiningOp<OpTy>()
             : OpTy();
}

/// Whether `op`'s body is out + in0 * in1.
bool isMultiplyAccumulate(linalg::GenericOp op) {
  auto add = yielded<arith::AddFOp>(op);
  if (!add)
    return false;
  Value acc = add.getLhs(), product = add.getRhs();
  if (!isArgument(op, acc, 2))
    std::swap(acc, product);
  auto mul = product.getDefiningOp<arith::MulFOp>();
  return isArgument(op, acc, 2) && mul &&
         ((isArgument(op, mul.getLhs(), 0) &&
           isArgument(op, mul.getRhs(), 1)) ||
          (isArgument(op, mul.getLhs(), 1) && isArgument(op, mul.getRhs(), 0)));
}

/// c when `v` is exp(c * (arg s - arg m)) in `op`'s body, else null.
Value shiftedExpScale(linalg::GenericOp op, Value v, unsigned s, unsigned m) {
  auto exp = v.getDefiningOp<math::ExpOp>();
  auto mul =
      exp ? exp.getOperand().getDefiningOp<arith::MulFOp>() : arith::MulFOp();
  if (!mul)
    return nullptr;
  for (auto [difference, scale] : {std::pair(mul.getLhs(), mul.getRhs()),
                                   std::pair(mul.getRhs(), mul.getLhs())}) {
    auto sub = difference.getDefiningOp<arith::SubFOp>();
    bool fromOutside = scale.getParentBlock() != &op.getRegion().front() ||
                       scale.getDefiningOp<arith::ConstantOp>();
    if (sub && isArgument(op, sub.getLhs(), s) &&
        isArgument(op, sub.getRhs(), m) && fromOutside)
      return scale;
  }
  return nullptr;
}

bool sameScale(Value a, Value b) {
  if (a == b)
    return true;
  auto ca = a.getDefiningOp<arith::ConstantOp>();
  auto cb = b.getDefiningOp<arith::ConstantOp>();
  return ca && cb && ca.getValue() == cb.getValue();
}

/// The fill of `buffer` that reaches `op`, when it fills with `value`.
linalg::FillOp fillWith(linalg::GenericOp op, Value buffer, double value) {
  linalg::FillOp fill = fillReaching(op, buffer);
  FloatAttr constant;
  if (!fill || !matchPattern(fill.getDpsInputs()[0], m_Constant(&constant)) ||
      constant.getValueAsDouble() != value)
    return nullptr;
  return fill;
}

std::optional<DecodeAttention> matchDecodeAttention(linalg::GenericOp scores) {
  auto parallel = IteratorType::parallel, reduction = IteratorType::reduction;
  auto isF32 = [](Value buffer) {
    return cast<MemRefType>(buffer.getType()).getElementType().isF32();
  };
  // scores [h, g, t] = sum over d of q [h, g, d] * keys [t, h, d]
  if (!hasForm(scores, {parallel, parallel, parallel, reduction},
               {{0, 1, 3}, {2, 0, 3}, {0, 1, 2}}) ||
      !isMultiplyAccumulate(scores))
    return std::nullopt;
  // The four generics after it, in its block; what lies between must not
  // touch memory but to allocate and fill theirs.
  SmallVector<linalg::GenericOp> next;
  SmallVector<Operation *> between;
  for (Operation *op = scores->getNextNode(); op && next.size() < 4;
       op = op->getNextNode()) {
    if (auto generic = dyn_cast<linalg::GenericOp>(op))
      next.push_back(generic);
    else
      between.push_back(op);
  }
  if (next.size() != 4)
    return std::nullopt;
  DecodeAttention a{scores, next[0], next[1], next[2], next[3], {}, nullptr};
  Value scoreBuffer = scores.getDpsInits()[0];
  Value maxBuffer = a.max.getDpsInits()[0];
  Value sumBuffer = a.sum.getDpsInits()[0];
  Value probBuffer = a.probs.getDpsInits()[0];
  // max [h, g] = max over t of scores [h, g, t]
  auto maximum = yielded<arith::MaximumFOp>(a.max);
  if (!hasForm(a.max, {parallel, parallel, reduction}, {{0, 1, 2}, {0, 1}}) ||
      a.max.getDpsInputs()[0] != scoreBuffer || !maximum ||
      !((isArgument(a.max, maximum.getLhs(), 0) &&
         isArgument(a.max, maximum.getRhs(), 1)) ||
        (isArgument(a.max, maximum.getLhs(), 1) &&
         isArgument(a.max, maximum.getRhs(), 0))))
    return std::nullopt;
  // sum [h, g] = sum over t of exp(c (scores [h, g, t] - max [h, g]))
  auto add = yielded<arith::AddFOp>(a.sum);
  if (!hasForm(a.sum, {parallel, parallel, reduction},
               {{0, 1, 2}, {0, 1}, {0, 1}}) ||
      a.sum.getDpsInputs()[0] != scoreBuffer ||
      a.sum.getDpsInputs()[1] != maxBuffer || !add)
    return std::nullopt;
  Value term = isArgument(a.sum, add.getLhs(), 2) ? add.getRhs() : add.getLhs();
  a.scale = shiftedExpScale(a.sum, term, 0, 1);
  if (!a.scale || !(isArgument(a.sum, add.getLhs(), 2) ||
                    isArgument(a.sum, add.getRhs(), 2)))
    return std::nullopt;
  // probs [h, g, t] = exp(c (scores [h, g, t] - max [h, g])) / sum [h, g]
  auto divide = yielded<arith::DivFOp>(a.probs);
  if (!hasForm(a.probs, {parallel, parallel, parallel},
               {{0, 1, 2}, {0, 1}, {0, 1}, {0, 1, 2}}) ||
      a.probs.getDpsInputs()[0] != scoreBuffer ||
      a.probs.getDpsInputs()[1] != maxBuffer ||
      a.probs.getDpsInputs()[2] != sumBuffer || !divide ||
      !isArgument(a.probs, divide.getRhs(), 2))
    return std::nullopt;
  Value probScale = shiftedExpScale(a.probs, divide.getLhs(), 0, 1);
  if (!probScale || !sameScale(probScale, a.scale))
    return std::nullopt;
  // out [h, g, d] = sum over t of probs [h, g, t] * values [t, h, d]
  if (!hasForm(a.weighted, {parallel, parallel, parallel, reduction},
               {{0, 1, 3}, {3, 0, 2}, {0, 1, 2}}) ||
      a.weighted.getDpsInputs()[0] != probBuffer ||
      !isMultiplyAccumulate(a.weighted))
    return std::nullopt;
  // Each sum starts from its identity.
  for (auto [op, buffer, value] :
       {std::tuple(scores, scoreBuffer, 0.0),
        std::tuple(a.max, maxBuffer, -std::numeric_limits<double>::infinity()),
        std::tuple(a.sum, sumBuffer, 0.0),
        std::tuple(a.weighted, a.out(), 0.0)}) {
    linalg::FillOp fill = fillWith(op, buffer, value);
    if (!fill)
      return std::nullopt;
    a.fills.push_back(fill);
  }
  for (Operation *op : between)
    if (!isa<memref::AllocOp>(op) && !isMemoryEffectFree(op) &&
        !llvm::is_contained(a.fills, op))
      return std::nullopt;
  // Static heads, group and head size; f32 scores, statistics and output.
  auto queryType = cast<MemRefType>(a.query().getType());
  if (!queryType.hasStaticShape() ||
      cast<MemRefType>(a.out().getType()).getShape() != queryType.getShape() ||
      !isF32(a.query()) || !isF32(a.out()))
    return std::nullopt;
  // The intermediates are allocations nothing else uses.
  for (Value buffer : a.intermediates()) {
    if (!buffer.getDefiningOp<memref::AllocOp>() || !isF32(buffer))
      return std::nullopt;
    for (Operation *user : buffer.getUsers())
      if (!isa<memref::DeallocOp>(user) &&
          !llvm::is_contained({a.scores.getOperation(), a.max.getOperation(),
                               a.sum.getOperation(), a.probs.getOperation(),
                               a.weighted.getOperation()},
                              user) &&
          !llvm::is_contained(a.fills, user))
        return std::nullopt;
  }
  return a;
}

/// Builds the two kernels at the weighted sum, in its place.
class FlashDecodingBuilder {
public:
  /// `lanes` per warp; ranges a multiple of `minKeys` (pass option
  /// min-keys-per-range: short contexts are not split into ranges of a few
  /// keys).
  FlashDecodingBuilder(DecodeAttention &a, int64_t lanes, int64_t minKeys)
      : a(a), b(a.weighted), loc(a.weighted.getLoc()), lanes(lanes),
        minKeys(minKeys) {
    auto shape = cast<MemRefType>(a.query().getType()).getShape();
    heads = shape[0];
    group = shape[1];
    headDim = shape[2];
    // Wider loads when D splits evenly into lanes x width and rows align.
    for (width = kMaxLaneWidth; width > 1; width /= 2)
      if (headDim % (lanes * width) == 0 &&
          llvm::all_of(ValueRange{a.query(), a.keys(), a.values()},
                       [&](Value v) { return rowsAligned(v, width); }))
        break;
    steps = llvm::divideCeil(headDim, lanes * width);
    // Fewer keys per block as the group's scores take more registers.
    keyBlock = std::clamp<int64_t>(16 / group, 2, 8);
    maxRanges = llvm::divideCeil(kTargetWarps, heads);
    // A constant in a body is cloned out of it.
    scale = a.scale;
    if (Operation *def = scale.getDefiningOp();
        def && def->getParentOfType<linalg::GenericOp>())
      scale = b.clone(*def)->getResult(0);
  }

  void build() {
    Type f32 = b.getF32Type();
    length = memref::DimOp::create(b, loc, a.keys(), 0);
    // keys per range: L / maxRanges, rounded up to minKeys
    Value atLeast = index(minKeys);
    keysPerRange = arith::MulIOp::create(
        b, loc,
        arith::CeilDivUIOp::create(
            b, loc,
            arith::CeilDivUIOp::create(b, loc, length, index(maxRanges)),
            atLeast),
        atLeast);
    ranges = arith::CeilDivUIOp::create(b, loc, length, keysPerRange);
    rangeMax = memref::AllocOp::create(
        b, loc, MemRefType::get({heads, group, maxRanges}, f32));
    rangeSum = memref::AllocOp::create(
        b, loc, MemRefType::get({heads, group, maxRanges}, f32));
    rangeOut = memref::AllocOp::create(
        b, loc, MemRefType::get({heads, group, maxRanges, headDim}, f32));
    mlir::llama::warps::warpPerPoint(
        b, loc, arith::MulIOp::create(b, loc, index(heads), ranges), lanes,
        [&](OpBuilder &b, Location loc, Value lane, Value point) {
          rangeKernel(b, loc, lane, point);
        });
    mergeKernel();
    for (Value buffer : {rangeMax, rangeSum, rangeOut})
      memref::DeallocOp::create(b, loc, buffer);
  }

private:
  Value index(int64_t v) { return index(b, loc, v); }
  static Value index(OpBuilder &b, Location loc, int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  static Value f32Constant(OpBuilder &b, Location loc, double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }

  /// x * y and x + y, free to contract into one fma.
  static Value mul(OpBuilder &b, Location loc, Value x, Value y) {
    return arith::MulFOp::create(b, loc, x, y, arith::FastMathFlags::contract);
  }
  static Value add(OpBuilder &b, Location loc, Value x, Value y) {
    return arith::AddFOp::create(b, loc, x, y, arith::FastMathFlags::contract);
  }

  /// exp(c (s - max)), the scores' exponentials shifted by a max.
  Value shiftedExp(OpBuilder &b, Location loc, Value s, Value max) {
    Value shifted = arith::SubFOp::create(b, loc, s, max);
    return math::ExpOp::create(b, loc,
                               arith::MulFOp::create(b, loc, shifted, scale));
  }

  /// A lane's `width` elements along D of `buffer`'s row at `leading`, from
  /// `d` on, in f32.
  SmallVector<Value> laneElements(OpBuilder &b, Location loc, Value buffer,
                                  ValueRange leading, Value d) {
    SmallVector<Value> at(leading);
    at.push_back(d);
    SmallVector<Value> elements =
        mlir::llama::warps::loadRow(b, loc, buffer, at, width);
    for (Value &e : elements)
      if (!e.getType().isF32())
        e = arith::ExtFOp::create(b, loc, b.getF32Type(), e);
    return elements;
  }

  /// The warp of (head, range): the online softmax over the range's keys.
  void rangeKernel(OpBuilder &b, Location loc, Value lane, Value point) {
    Value head = arith::DivUIOp::create(b, loc, point, ranges);
    Value range = arith::RemUIOp::create(b, loc, point, ranges);
    Value first = arith::MulIOp::create(b, loc, range, keysPerRange);
    Value end = arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, first, keysPerRange), length);
    Value last = arith::SubIOp::create(b, loc, end, index(b, loc, 1));
    // The lane's elements along D: `width` at (step * 32 + lane) * width;
    // past D when D is not a multiple of 32 (they read D - 1 and count 0).
    bool ragged = headDim % (lanes * width) != 0;
    SmallVector<Value> laneAt; // per step: the lane's first d
    SmallVector<Value> laneIn;
    for (int64_t step = 0; step < steps; ++step) {
      Value column = step == 0 ? lane
                               : arith::AddIOp::create(
                                     b, loc, lane, index(b, loc, step * lanes));
      Value d = arith::MulIOp::create(b, loc, column, index(b, loc, width));
      Value lastD = index(b, loc, headDim - 1);
      laneIn.push_back(ragged ? arith::CmpIOp::create(
                                    b, loc, arith::CmpIPredicate::ule, d, lastD)
                              : Value());
      laneAt.push_back(ragged ? arith::MinUIOp::create(b, loc, d, lastD) : d);
    }
    Value zero = f32Constant(b, loc, 0.0);
    Value negInf =
        f32Constant(b, loc, -std::numeric_limits<double>::infinity());
    // q [g][e]: the group's query rows, 0 past D.
    SmallVector<SmallVector<Value>> q(group);
    for (int64_t g = 0; g < group; ++g)
      for (int64_t step = 0; step < steps; ++step)
        for (Value e : laneElements(b, loc, a.query(), {head, index(b, loc, g)},
                                    laneAt[step]))
          q[g].push_back(
              ragged ? arith::SelectOp::create(b, loc, laneIn[step], e, zero)
                     : e);
    int64_t elements = steps * width;
    // The state: max [G], sum [G], output [G][elements].
    SmallVector<Value> start;
    start.append(group, negInf);
    start.append(group, zero);
    start.append(group * elements, zero);
    auto loop = scf::ForOp::create(
        b, loc, first, end, index(b, loc, keyBlock), start,
        [&](OpBuilder &b, Location loc, Value blockStart, ValueRange state) {
          // The block's key and value rows (a key past the range reads the
          // range's last and counts 0).
          SmallVector<Value> valid;
          SmallVector<SmallVector<Value>> k(keyBlock), v(keyBlock);
          for (int64_t j = 0; j < keyBlock; ++j) {
            Value t = j == 0 ? blockStart
                             : arith::AddIOp::create(b, loc, blockStart,
                                                     index(b, loc, j));
            valid.push_back(arith::CmpIOp::create(
                b, loc, arith::CmpIPredicate::ult, t, end));
            Value at = arith::MinUIOp::create(b, loc, t, last);
            for (int64_t step = 0; step < steps; ++step) {
              llvm::append_range(k[j], laneElements(b, loc, a.keys(),
                                                    {at, head}, laneAt[step]));
              llvm::append_range(v[j], laneElements(b, loc, a.values(),
                                                    {at, head}, laneAt[step]));
            }
          }
          SmallVector<Value> next(state.size());
          for (int64_t g = 0; g < group; ++g) {
            // The block's scores, -inf past the range.
            SmallVector<Value> s;
            Value blockMax;
            for (int64_t j = 0; j < keyBlock; ++j) {
              Value dot = mul(b, loc, q[g][0], k[j][0]);
              for (int64_t e = 1; e < elements; ++e)
                dot = add(b, loc, dot, mul(b, loc, q[g][e], k[j][e]));
              dot = mlir::llama::warps::allLanes(
                  b, loc, dot, lanes,
                  [](OpBuilder &b, Location loc, Value x, Value y) {
                    return add(b, loc, x, y);
                  });
              s.push_back(
                  arith::SelectOp::create(b, loc, valid[j], dot, negInf));
              blockMax = blockMax ? arith::MaximumFOp::create(b, loc, blockMax,
                                                              s.back())
                                  : s.back();
            }
            // The block's first key is in the range: the new max is finite.
            Value oldMax = state[g];
            Value newMax = arith::MaximumFOp::create(b, loc, oldMax, blockMax);
            Value isFirst = arith::CmpFOp::create(
                b, loc, arith::CmpFPredicate::OEQ, oldMax, negInf);
            Value rescale = arith::SelectOp::create(
                b, loc, isFirst, zero, shiftedExp(b, loc, oldMax, newMax));
            Value sum = mul(b, loc, state[group + g], rescale);
            SmallVector<Value> out;
            for (int64_t e = 0; e < elements; ++e)
              out.push_back(
                  mul(b, loc, state[2 * group + g * elements + e], rescale));
            for (int64_t j = 0; j < keyBlock; ++j) {
              Value p = arith::SelectOp::create(
                  b, loc, valid[j], shiftedExp(b, loc, s[j], newMax), zero);
              sum = add(b, loc, sum, p);
              for (int64_t e = 0; e < elements; ++e)
                out[e] = add(b, loc, out[e], mul(b, loc, p, v[j][e]));
            }
            next[g] = newMax;
            next[group + g] = sum;
            llvm::copy(out, next.begin() + 2 * group + g * elements);
          }
          scf::YieldOp::create(b, loc, next);
        });
    ValueRange result = loop.getResults();
    // Each lane stores its output elements; lane 0 the max and sum.
    for (int64_t g = 0; g < group; ++g)
      for (int64_t step = 0; step < steps; ++step) {
        auto store = [&](OpBuilder &b, Location loc) {
          mlir::llama::warps::storeRow(
              b, loc, rangeOut, {head, index(b, loc, g), range, laneAt[step]},
              SmallVector<Value>(result.slice(
                  2 * group + g * elements + step * width, width)));
        };
        mlir::llama::warps::guarded(b, loc, laneIn[step], store);
      }
    Value leader = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, lane,
                                         index(b, loc, 0));
    scf::IfOp::create(b, loc, leader, [&](OpBuilder &b, Location loc) {
      for (int64_t g = 0; g < group; ++g) {
        SmallVector<Value> at = {head, index(b, loc, g), range};
        memref::StoreOp::create(b, loc, result[g], rangeMax, at);
        memref::StoreOp::create(b, loc, result[group + g], rangeSum, at);
      }
      scf::YieldOp::create(b, loc);
    });
  }

  /// A thread per output element merges the ranges' results:
  /// out = sum_r out_r e_r / sum_r l_r e_r with e_r = exp(c (m_r - max_r m_r)),
  /// online over r like the keys.
  void mergeKernel() {
    Value zero = index(0), one = index(1);
    scf::ParallelOp::create(
        b, loc, ValueRange{zero, zero, zero},
        ValueRange{index(heads), index(group), index(headDim)},
        ValueRange{one, one, one},
        [&](OpBuilder &b, Location loc, ValueRange hgd) {
          Value h = hgd[0], g = hgd[1], d = hgd[2];
          auto rangeResult = [&](OpBuilder &b, Location loc, Value r) {
            return SmallVector<Value>{
                memref::LoadOp::create(b, loc, rangeMax, ValueRange{h, g, r}),
                memref::LoadOp::create(b, loc, rangeSum, ValueRange{h, g, r}),
                memref::LoadOp::create(b, loc, rangeOut,
                                       ValueRange{h, g, r, d})};
          };
          auto loop = scf::ForOp::create(
              b, loc, one, ranges, one, rangeResult(b, loc, zero),
              [&](OpBuilder &b, Location loc, Value r, ValueRange state) {
                SmallVector<Value> other = rangeResult(b, loc, r);
                Value max =
                    arith::MaximumFOp::create(b, loc, state[0], other[0]);
                Value mine = shiftedExp(b, loc, state[0], max);
                Value theirs = shiftedExp(b, loc, other[0], max);
                auto merged = [&](Value x, Value y) -> Value {
                  return add(b, loc, mul(b, loc, x, mine),
                             mul(b, loc, y, theirs));
                };
                scf::YieldOp::create(b, loc,
                                     ValueRange{max, merged(state[1], other[1]),
                                                merged(state[2], other[2])});
              });
          Value out = arith::DivFOp::create(b, loc, loop.getResult(2),
                                            loop.getResult(1));
          memref::StoreOp::create(b, loc, out, a.out(), ValueRange{h, g, d});
        });
  }

  DecodeAttention &a;
  OpBuilder b;
  Location loc;
  int64_t lanes; // of a warp
  int64_t minKeys;
  int64_t heads, group, headDim;
  int64_t width, steps, keyBlock, maxRanges;
  Value scale;
  Value length, keysPerRange, ranges;
  Value rangeMax, rangeSum, rangeOut; // [Hkv, G, R], [Hkv, G, R], [.., D]
};

/// The five generics, their fills and the intermediates (with their
/// frees) erased.
void eraseMatched(DecodeAttention &a) {
  SmallVector<Value> intermediates = a.intermediates();
  for (linalg::GenericOp op : {a.weighted, a.probs, a.sum, a.max, a.scores})
    op->erase();
  for (linalg::FillOp fill : a.fills)
    fill->erase();
  for (Value buffer : intermediates) {
    for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
      user->erase(); // the deallocs
    buffer.getDefiningOp()->erase();
  }
}

struct FlashDecodingPass
    : mlir::llama::impl::LlamaFlashDecodingPassBase<FlashDecodingPass> {
  using LlamaFlashDecodingPassBase::LlamaFlashDecodingPassBase;

  void runOnOperation() override {
    SmallVector<DecodeAttention> found;
    DenseSet<Operation *> taken;
    for (linalg::GenericOp op : mlir::llama::hostGenerics(getOperation())) {
      if (taken.contains(op))
        continue;
      if (std::optional<DecodeAttention> a = matchDecodeAttention(op)) {
        for (linalg::GenericOp matched :
             {a->scores, a->max, a->sum, a->probs, a->weighted})
          taken.insert(matched);
        found.push_back(*a);
      }
    }
    for (DecodeAttention &a : found) {
      FlashDecodingBuilder(a, warpSize, std::max<int64_t>(minKeysPerRange, 1))
          .build();
      eraseMatched(a);
    }
  }
};

} // namespace
