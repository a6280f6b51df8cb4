//===- RowReductions.cpp - what llama-warp-contractions takes -------------===//
//
// Matching only: a generic reducing along its contiguous last dim, and the
// generics after it that a warp can run on its point too.
//
//===----------------------------------------------------------------------===//

#include "passes/Target/NVIDIA/RowReductions.h"
#include "passes/Target/NVIDIA/KernelOperands.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

namespace mlir::llama::warp {

bool readsAlongK(linalg::GenericOp op, OpOperand *input, unsigned k) {
  return op.getMatchingIndexingMap(input).isFunctionOfDim(k);
}

/// The neutral element of a combiner the warp can apply in any order.
static TypedAttr identityOf(Operation *combine) {
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

/// Whether `map` is the identity over the first `dims` of `loops` loops.
static bool isLeadingIdentity(AffineMap map, unsigned dims, unsigned loops) {
  return map == AffineMap::getMultiDimIdentityMap(loops, map.getContext())
                    .getMajorSubMap(dims);
}

/// Whether `op`'s loop ranges are all static and those of `ranges`.
static bool hasStaticRanges(linalg::GenericOp op, ArrayRef<int64_t> ranges) {
  SmallVector<int64_t> own = op.getStaticLoopRanges();
  return ArrayRef<int64_t>(own) == ranges &&
         llvm::none_of(own, ShapedType::isDynamic);
}

/// The step `op` would be after `chain`'s stages, when it fits: a reduction
/// or a map along the row when it reads the row buffer `rows` (rows of the
/// chain without a row loop) or has the first reduction's static ranges; a
/// map of the point with the static ranges of the point.
static std::optional<Stage> stageOf(Chain &chain, Value rows,
                                    linalg::GenericOp op) {
  RowReduction &first = *chain.front().reduction;
  unsigned loops = first.loops;
  if (!op.hasPureBufferSemantics() || op.hasIndexSemantics() ||
      chain.back().kind == StageKind::PointMap)
    return std::nullopt;
  auto readsRowBuffer = [&] {
    return llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *input) {
      return rows && input->get() == rows &&
             op.getMatchingIndexingMap(input).isIdentity();
    });
  };
  SmallVector<int64_t> ranges = first.op.getStaticLoopRanges();
  bool sameRows =
      first.rows == 0 ? readsRowBuffer() : hasStaticRanges(op, ranges);
  for (OpOperand &init : op.getDpsInitsMutable())
    if (op.getNumReductionLoops() == 0 &&
        (!op.getMatchingIndexingMap(&init).isIdentity() ||
         !op.getMatchingBlockArgument(&init).use_empty()))
      return std::nullopt;
  if (op.getNumLoops() == loops && op.getNumReductionLoops() != 0) {
    std::optional<RowReduction> r = matchRowReduction(op);
    if (!r || r->rows != first.rows || r->rowBlocks != first.rowBlocks ||
        !sameRows)
      return std::nullopt;
    return Stage{op, StageKind::Reduction, r, nullptr};
  }
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isProjectedPermutation() ||
        (op.getNumLoops() == loops && map.isFunctionOfDim(loops - 1) &&
         map.getDimPosition(map.getNumResults() - 1) != loops - 1))
      return std::nullopt;
  }
  if (op.getNumLoops() == loops && first.rows == 0 && sameRows)
    return Stage{op, StageKind::RowMap, std::nullopt, nullptr};
  if (op.getNumLoops() == loops - 1 && !first.rowBlocks &&
      hasStaticRanges(op, ArrayRef(ranges).drop_back()))
    return Stage{op, StageKind::PointMap, std::nullopt, nullptr};
  return std::nullopt;
}

/// Whether `op`, after `chain`'s stages, is one more: it fits (stageOf),
/// reads the earlier reductions' results at the point only, and what the
/// chain writes is accessed at the point or along its row only.
static std::optional<Stage> matchStage(Chain &chain, Value rows,
                                       linalg::GenericOp op) {
  std::optional<Stage> stage = stageOf(chain, rows, op);
  if (!stage)
    return std::nullopt;
  unsigned loops = chain.front().reduction->loops;
  // At the point: the leading identity of a step along k, the identity of
  // a map of the point.
  auto atPoint = [&](OpOperand *access) {
    auto owner = cast<linalg::GenericOp>(access->getOwner());
    AffineMap map = owner.getMatchingIndexingMap(access);
    return owner.getNumLoops() == loops
               ? isLeadingIdentity(map, loops - 1, loops)
               : map.isIdentity();
  };
  auto alongRow = [&](OpOperand *access) {
    auto owner = cast<linalg::GenericOp>(access->getOwner());
    return owner.getNumLoops() == loops &&
           owner.getMatchingIndexingMap(access).isIdentity();
  };
  DenseSet<Value> written;
  SmallVector<OpOperand *> accesses;
  for (Stage &s : chain)
    for (OpOperand &operand : s.op->getOpOperands())
      accesses.push_back(&operand);
  for (OpOperand &operand : op->getOpOperands())
    accesses.push_back(&operand);
  for (OpOperand *access : accesses)
    if (cast<linalg::GenericOp>(access->getOwner()).isDpsInit(access))
      written.insert(access->get());
  for (OpOperand *access : accesses) {
    Value base = mlir::llama::baseOf(access->get());
    for (Value w : written)
      if ((access->get() == w && !atPoint(access) && !alongRow(access)) ||
          (access->get() != w && (!base || base == mlir::llama::baseOf(w))))
        return std::nullopt;
  }
  // Results of earlier reductions read at the point: in registers only when
  // the reduction starts from a fill (no lane reads what lane 0 stores).
  for (OpOperand *input : op.getDpsInputOperands())
    for (Stage &s : chain)
      if (s.reduction && input->get() == s.reduction->out &&
          (!atPoint(input) ||
           !mlir::llama::fillReaching(s.op, s.reduction->out)))
        return std::nullopt;
  return stage;
}

/// Whether a warp may run `op` (between two of a chain's stages) after the
/// stages after it: it touches no memory, allocates, or fills a later
/// reduction's output (which becomes that reduction's start).
static bool mayPass(Operation *op) {
  if (isMemoryEffectFree(op) || isa<memref::AllocOp>(op))
    return true;
  auto fill = dyn_cast<linalg::FillOp>(op);
  auto next =
      fill ? dyn_cast_or_null<linalg::GenericOp>(fill->getNextNode()) : nullptr;
  return next && next.getNumReductionLoops() != 0 &&
         next.getDpsInits()[0] == fill.getDpsInits()[0];
}

/// Whether an op strictly between `from` and `to` (in one block) may write
/// memory `buffer` views (mayAlias, no argument known distinct).
static bool writtenBetween(Operation *from, Operation *to, Value buffer) {
  Value base = baseOf(buffer);
  auto mayBeBase = [&](Value other) {
    return !base || !other || mayAlias(base, other, DistinctArguments());
  };
  for (Operation *op = from->getNextNode(); op != to; op = op->getNextNode()) {
    std::optional<SmallVector<MemoryEffects::EffectInstance>> effects =
        effectsOf(op);
    if (!effects)
      return true;
    for (const MemoryEffects::EffectInstance &e : *effects)
      if (isa<MemoryEffects::Write>(e.getEffect()) &&
          mayBeBase(e.getValue() ? baseOf(e.getValue()) : Value()))
        return true;
  }
  return false;
}

/// How `reader` recomputes `sum`'s result, when it can: a reduction adding
/// products, reading the result (at fixed k) only in the ops of one factor
/// of each product, and the sum's inputs along the same row.
static std::optional<FoldedSum> foldInto(RowReduction sum,
                                         linalg::GenericOp reader) {
  std::optional<RowReduction> g = matchRowReduction(reader);
  if (!g || !isa<arith::AddFOp>(g->combine))
    return std::nullopt;
  MLIRContext *ctx = reader.getContext();
  FoldedSum fold{sum, nullptr, 0, {}, {}, nullptr};
  OpOperand *sumOperand = nullptr;
  for (OpOperand *input : reader.getDpsInputOperands())
    if (input->get() == sum.out) {
      if (sumOperand)
        return std::nullopt;
      sumOperand = input;
    }
  if (!sumOperand || readsAlongK(reader, sumOperand, g->k()))
    return std::nullopt;
  fold.sumInput = sumOperand->getOperandNumber();
  // The sum's loops as the reader's: its point's as the reader indexes its
  // result, its k as the reader's.
  AffineMap resultMap = reader.getMatchingIndexingMap(sumOperand);
  if (resultMap.getNumResults() != sum.k())
    return std::nullopt;
  SmallVector<unsigned> readerLoop;
  for (unsigned i = 0; i < sum.k(); ++i)
    readerLoop.push_back(resultMap.getDimPosition(i));
  readerLoop.push_back(g->k());
  for (OpOperand *input : sum.op.getDpsInputOperands()) {
    SmallVector<AffineExpr> renamed;
    for (AffineExpr e : sum.op.getMatchingIndexingMap(input).getResults())
      renamed.push_back(getAffineDimExpr(
          readerLoop[cast<AffineDimExpr>(e).getPosition()], ctx));
    AffineMap expected = AffineMap::get(reader.getNumLoops(), 0, renamed, ctx);
    SmallVector<OpOperand *> readerInputs = reader.getDpsInputOperands();
    auto same = llvm::find_if(readerInputs, [&](OpOperand *candidate) {
      return candidate->get() == input->get() &&
             reader.getMatchingIndexingMap(candidate) == expected &&
             readsAlongK(reader, candidate, g->k());
    });
    if (same == readerInputs.end())
      return std::nullopt;
    fold.rowInputs.push_back((*same)->getOperandNumber());
  }
  // The body's ops computed from the sum's result; the factor's among them
  // use nothing else along k (the result, constants, values from outside).
  Block &body = reader.getRegion().front();
  Value result = body.getArgument(fold.sumInput);
  DenseSet<Operation *> fromResult, factorOps;
  auto inBody = [&](Value v) -> Operation * {
    Operation *def = v.getDefiningOp();
    return def && def->getBlock() == &body ? def : nullptr;
  };
  for (Operation &op : body.without_terminator()) {
    bool reads = llvm::any_of(op.getOperands(), [&](Value v) {
      return v == result || (inBody(v) && fromResult.contains(inBody(v)));
    });
    if (!reads)
      continue;
    fromResult.insert(&op);
    bool factorOnly =
        isPure(&op) && llvm::all_of(op.getOperands(), [&](Value v) {
          if (v == result)
            return true;
          if (auto arg = dyn_cast<BlockArgument>(v))
            return arg.getOwner() != &body;
          Operation *def = inBody(v);
          return !def || factorOps.contains(def) ||
                 (def->getNumOperands() == 0 && isPure(def));
        });
    if (factorOnly)
      factorOps.insert(&op);
  }
  // In order, with the body's constants they use.
  for (Operation &op : body.without_terminator())
    if (factorOps.contains(&op) ||
        (op.getNumOperands() == 0 && isPure(&op) &&
         llvm::any_of(op.getUsers(), [&](Operation *user) {
           return factorOps.contains(user);
         })))
      fold.factorOps.push_back(&op);
  for (Operation *op : factorOps)
    for (Value v : op->getResults())
      for (Operation *user : v.getUsers())
        if (!factorOps.contains(user)) {
          if (fold.factor && fold.factor != v)
            return std::nullopt;
          fold.factor = v;
        }
  if (!fold.factor)
    return std::nullopt;
  // The rest are products, the factor in each product exactly once: the
  // sum over k of the products is the factor times their sum without it.
  for (Operation *op : fromResult)
    if (!factorOps.contains(op) && op != g->combine && !isa<arith::MulFOp>(op))
      return std::nullopt;
  std::function<int(Value)> occurrences = [&](Value v) -> int {
    if (v == fold.factor)
      return 1;
    Operation *def = inBody(v);
    if (!def || !fromResult.contains(def))
      return 0;
    if (factorOps.contains(def))
      return 2; // another value of the factor's ops: not a plain factor
    return occurrences(def->getOperand(0)) + occurrences(def->getOperand(1));
  };
  if (occurrences(g->product) != 1)
    return std::nullopt;
  return fold;
}

DenseMap<Operation *, FoldedSum> matchFoldedSum(RowReduction sum) {
  DenseMap<Operation *, FoldedSum> folds;
  if (sum.rows != 0 || !sum.out.getDefiningOp<memref::AllocOp>() ||
      !fillReaching(sum.op, sum.out) ||
      llvm::any_of(sum.op.getRegion().front().without_terminator(),
                   [](Operation &op) { return !isPure(&op); }))
    return DenseMap<Operation *, FoldedSum>();
  for (Operation *user : sum.out.getUsers()) {
    if (user == sum.op || isa<memref::DeallocOp>(user))
      continue;
    if (isa<linalg::FillOp>(user) && user->getBlock() == sum.op->getBlock() &&
        user->isBeforeInBlock(sum.op))
      continue;
    auto reader = dyn_cast<linalg::GenericOp>(user);
    if (!reader || reader->getBlock() != sum.op->getBlock() ||
        !sum.op->isBeforeInBlock(reader) ||
        llvm::any_of(sum.op.getDpsInputs(), [&](Value input) {
          return writtenBetween(sum.op, reader, input);
        }))
      return DenseMap<Operation *, FoldedSum>();
    std::optional<FoldedSum> fold = foldInto(sum, reader);
    if (!fold)
      return DenseMap<Operation *, FoldedSum>();
    folds.try_emplace(reader, *fold);
  }
  return folds;
}

Chain matchChain(RowReduction first) {
  Chain chain{{first.op, StageKind::Reduction, first, nullptr}};
  // The row buffer: read along the whole row, the identity map (none for a
  // projection: its steps have its static ranges instead).
  Value rows;
  for (OpOperand *input : first.op.getDpsInputOperands())
    if (first.op.getMatchingIndexingMap(input).isIdentity())
      rows = input->get();
  for (Operation *op = first.op->getNextNode(); op; op = op->getNextNode()) {
    auto generic = dyn_cast<linalg::GenericOp>(op);
    if (!generic) {
      if (!mayPass(op))
        break;
      continue;
    }
    std::optional<Stage> stage = matchStage(chain, rows, generic);
    if (!stage)
      break;
    chain.push_back(*stage);
  }
  // A chain ends with its last stage: what a warp computes after it is not
  // the chain's (trailing fills and allocations stay where they are).
  return chain;
}

} // namespace mlir::llama::warp
