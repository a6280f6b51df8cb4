//===- TileContractions.cpp - register-tiled, vectorized matmuls ----------===//
//
// Rewrites every matmul-like linalg.generic (out += a * b over one reduction
// dim, the sum reassociable) into cache blocks of register tiles whose body
// is one vector operation on the target's widest vectors, the accumulators
// kept in registers across the reduction loop:
//
//   outer-product kernel, on b's block packed into panels of NR columns
//   (dX = dY . W, dW = dY^T . X, and y = x . W^T: W's rows transposed into
//   the panels in vector squares):
//       acc[MR x NR] += a[MR x 1] * b[1 x NR]           per k
//   dot kernel, when both operands are contiguous along k and the columns
//   do not fill whole panels (and for GEMVs):
//       acc[MR x NR x VL] += a[MR x VL] * b[NR x VL]    per VL values of k
//       out[MR x NR] = sum over the VL lanes of acc     once per tile
//
// The outer product beats the dot kernel on y = x . W^T even with the packing:
// the dot kernel's lane sums at the end of each tile took 30 % of a prefill
// projection's time (stories110M prefill, one thread: 325 -> 447 tok/s).
//
// Rows left over by MR run one at a time, also vectorized. A GEMV (one row:
// decode) is split over threads in chunks of columns, each a dot kernel of
// one row by one column. A contraction whose row count is only known at run
// time (prefill: the prompt length, the LM head: the rows asked for) is
// versioned: the tiled code runs when there are at least MR rows, the GEMV
// otherwise. Weights narrower than f32 (bf16, f16) are widened in registers.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Transforms/Chunks.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMATILECONTRACTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// Marks the register-tile ops to vectorize once peeling has made their
/// shapes static.
constexpr llvm::StringLiteral kMicroKernel = "llama.micro_kernel";

/// Rows and columns of one register tile and of one cache block.
struct TileSizes {
  int64_t rows, columns;           // register tile (MR, NR)
  int64_t blockRows, blockColumns; // cache block
  int64_t lanes;                   // dot kernel: k values per step (VL)
};

/// How one contraction maps onto a kernel.
struct ContractionPlan {
  unsigned rowDim, columnDim;             // loop dims of the output's tile
  SmallVector<unsigned, 2> reductionDims; // summed over (dot: exactly one)
  bool dot; // both operands contiguous along k (else: outer product)
  bool fewRows = false; // fewer rows than a register tile: a GEMV
  /// After packing: the loop over b's column panels, run right inside the
  /// rows so that a's rows stay in L1 across the panels.
  std::optional<unsigned> panelDim;
};

bool hasFlags(Operation *op, arith::FastMathFlags flags) {
  auto fastMath = dyn_cast<arith::ArithFastMathInterface>(op);
  return fastMath && arith::bitEnumContainsAll(
                         fastMath.getFastMathFlagsAttr().getValue(), flags);
}

/// Strips float extensions (narrow weights are widened in the body).
Value widenedFrom(Value value) {
  if (auto ext = value.getDefiningOp<arith::ExtFOp>())
    return ext.getIn();
  return value;
}

/// Whether the body is `yield out + a * b` with a reassociable sum.
bool isMultiplyAccumulate(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || !hasFlags(add, arith::FastMathFlags::reassoc))
    return false;
  Value acc = body.getArgument(2);
  Value product = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  if (add.getLhs() != acc && add.getRhs() != acc)
    return false;
  auto mul = product.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  Value lhs = widenedFrom(mul.getLhs()), rhs = widenedFrom(mul.getRhs());
  return (lhs == body.getArgument(0) && rhs == body.getArgument(1)) ||
         (lhs == body.getArgument(1) && rhs == body.getArgument(0));
}

/// The loop dim an operand's innermost index runs over.
std::optional<unsigned> innermostDim(AffineMap map) {
  if (map.getNumResults() == 0)
    return std::nullopt;
  auto dim = dyn_cast<AffineDimExpr>(map.getResults().back());
  if (!dim)
    return std::nullopt;
  return dim.getPosition();
}

/// Register tiles and cache blocks for a kernel on `lanes`-wide vectors.
/// Outer product: 8 rows x 2 vectors (16 accumulators; 2 loads and 8
/// broadcasts per 16 FMAs; 12 x 2, 6 x 4 and 4 x 4 measured no faster),
/// blocks of 64 x 128 keep b's slice in L2 and a's rows in L1. Dot: 8 x 2 x
/// VL lanes (16 accumulators, 10 loads per 16 FMAs), blocks of 64 x 16
/// (measured best on AVX-512).
TileSizes tileSizesFor(bool dot, int64_t lanes) {
  if (dot)
    return {8, 2, 64, 16, lanes};
  return {8, 2 * lanes, 64, 128, lanes};
}

std::optional<ContractionPlan> planContraction(linalg::GenericOp op,
                                               int64_t lanes) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics() || !isMultiplyAccumulate(op))
    return std::nullopt;
  FailureOr<linalg::ContractionDimensions> dims =
      linalg::inferContractionDims(op);
  if (failed(dims) || dims->k.empty())
    return std::nullopt;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  AffineMap outMap = maps[2];
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  // Columns: the output's contiguous dim, from one operand (b). Rows: the
  // innermost other output dim from the other operand (a) that is not of
  // size 1 (a GQA group of one head). Batch dims and the rest: tiles of 1.
  auto column = dyn_cast<AffineDimExpr>(outMap.getResults().back());
  if (!column)
    return std::nullopt;
  unsigned columnDim = column.getPosition();
  bool columnInM = llvm::is_contained(dims->m, columnDim);
  if (!columnInM && !llvm::is_contained(dims->n, columnDim))
    return std::nullopt;
  ArrayRef<unsigned> rowCandidates = columnInM ? dims->n : dims->m;
  std::optional<unsigned> rowDim, unitRowDim;
  for (AffineExpr expr : llvm::reverse(outMap.getResults().drop_back())) {
    auto dim = dyn_cast<AffineDimExpr>(expr);
    if (!dim || !llvm::is_contained(rowCandidates, dim.getPosition()))
      continue;
    if (ranges[dim.getPosition()] != 1) {
      rowDim = dim.getPosition();
      break;
    }
    unitRowDim = unitRowDim.value_or(dim.getPosition());
  }
  // No rows, or only rows of size 1: a GEMV (decode).
  bool gemv = !rowDim;
  ContractionPlan plan{rowDim.value_or(unitRowDim.value_or(columnDim)),
                       columnDim,
                       dims->k,
                       /*dot=*/false,
                       /*fewRows=*/false,
                       /*panelDim=*/std::nullopt};
  // b: the operand indexed by the columns; a: the one indexed by the rows.
  unsigned bIndex = maps[0].isFunctionOfDim(plan.columnDim) ? 0 : 1;
  std::optional<unsigned> bInner = innermostDim(maps[bIndex]);
  std::optional<unsigned> aInner = innermostDim(maps[1 - bIndex]);
  if (bInner == plan.columnDim)
    plan.dot = false;
  else if (dims->k.size() == 1 && bInner == dims->k[0] && aInner == dims->k[0])
    plan.dot = true;
  else
    return std::nullopt;
  TileSizes sizes = tileSizesFor(plan.dot, lanes);

  // Columns must be static (weights, head_dim); rows may be dynamic, and k
  // too for the outer product, which steps through it one at a time
  // (attention's P . V over the keys so far).
  int64_t columns = ranges[plan.columnDim], rows = ranges[plan.rowDim];
  int64_t k = ranges[plan.reductionDims.back()];
  if (ShapedType::isDynamic(columns) || (plan.dot && ShapedType::isDynamic(k)))
    return std::nullopt;
  if (columns < sizes.columns || (plan.dot && k % sizes.lanes != 0))
    return std::nullopt;
  plan.fewRows = gemv || (!ShapedType::isDynamic(rows) && rows < sizes.rows);
  return plan;
}

/// Tile sizes for every loop dim: `rows` and `columns` on those dims, 1 on
/// the other parallel dims, `reduction` on the reduction dims.
SmallVector<OpFoldResult> loopTiles(OpBuilder &b, linalg::GenericOp op,
                                    const ContractionPlan &plan, int64_t rows,
                                    int64_t columns, int64_t reduction) {
  SmallVector<OpFoldResult> tiles;
  for (unsigned d = 0, e = op.getNumLoops(); d < e; ++d) {
    int64_t size = 1;
    if (d == plan.columnDim) // (a GEMV without rows has rowDim == columnDim)
      size = columns;
    else if (d == plan.rowDim)
      size = rows;
    else if (llvm::is_contained(plan.reductionDims, d))
      size = reduction;
    tiles.push_back(b.getIndexAttr(size));
  }
  return tiles;
}

/// Loop order: the other parallel dims, rows, columns, then the reduction
/// dims.
SmallVector<int64_t> loopOrder(linalg::GenericOp op,
                               const ContractionPlan &plan) {
  SmallVector<int64_t> order;
  for (unsigned d = 0, e = op.getNumLoops(); d < e; ++d)
    if (d != plan.rowDim && d != plan.columnDim && d != plan.panelDim &&
        !llvm::is_contained(plan.reductionDims, d))
      order.push_back(d);
  if (plan.rowDim != plan.columnDim)
    order.push_back(plan.rowDim);
  if (plan.panelDim)
    order.push_back(*plan.panelDim);
  order.push_back(plan.columnDim);
  order.append(plan.reductionDims.begin(), plan.reductionDims.end());
  return order;
}

/// Tiles `op` with scf.for loops, or with one scf.forall (`parallel`: the
/// tiles run on separate threads).
FailureOr<scf::SCFTilingResult>
tile(RewriterBase &rewriter, linalg::GenericOp op, const ContractionPlan &plan,
     ArrayRef<OpFoldResult> tiles, bool parallel = false) {
  scf::SCFTilingOptions options;
  options.setTileSizes(tiles);
  options.setInterchange(loopOrder(op, plan));
  if (parallel)
    options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
  rewriter.setInsertionPoint(op);
  FailureOr<scf::SCFTilingResult> result = scf::tileUsingSCF(
      rewriter, cast<TilingInterface>(op.getOperation()), options);
  if (succeeded(result))
    rewriter.replaceOp(op, result->replacements);
  return result;
}

/// The loop over `dim` among the tiled loops (those of tile size > 0, in
/// loop order).
scf::ForOp loopOver(MutableArrayRef<LoopLikeOpInterface> loops,
                    linalg::GenericOp op, const ContractionPlan &plan,
                    ArrayRef<OpFoldResult> tiles, unsigned dim) {
  unsigned index = 0;
  for (int64_t d : loopOrder(op, plan)) {
    if (isZeroInteger(tiles[d]))
      continue;
    if (d == dim)
      return dyn_cast<scf::ForOp>(loops[index].getOperation());
    ++index;
  }
  return {};
}

/// Peels the last, partial iteration off `loop` (the main loop's tiles get
/// static sizes); returns the remainder loop, if any.
scf::ForOp peel(RewriterBase &rewriter, scf::ForOp loop) {
  scf::ForOp remainder;
  if (loop)
    (void)scf::peelForLoopAndSimplifyBounds(rewriter, loop, remainder);
  return remainder;
}

/// The column block of a packed outer-product kernel: the largest of 128,
/// 64, 32 that divides the columns into whole panels of `panel` (0: none).
int64_t packedBlockColumns(int64_t columns, int64_t panel) {
  for (int64_t block : {128, 64, 32})
    if (block % panel == 0 && columns % block == 0)
      return block;
  return 0;
}

/// Tiles a transpose that moves the innermost dim (a weight [N, K] packed
/// into panels [N / NR, K, NR]) into squares of lanes x lanes, marked to
/// vectorize: each a vector transpose of `lanes` loads into `lanes` stores.
/// Left as loops, LLVM made it gathers and scatters (30 % of a prefill
/// projection's time). Other transposes (whole rows moved) stay copies.
LogicalResult tileTransposeSquares(RewriterBase &rewriter,
                                   linalg::TransposeOp transpose,
                                   int64_t lanes) {
  ArrayRef<int64_t> permutation = transpose.getPermutation();
  int64_t rank = permutation.size();
  auto type = cast<RankedTensorType>(transpose.getInit().getType());
  if (rank < 2 || !type.hasStaticShape() ||
      type.getShape()[rank - 1] % lanes != 0 ||
      type.getShape()[rank - 2] % lanes != 0)
    return success();
  SmallVector<int64_t> swapLastTwo = llvm::to_vector(llvm::seq<int64_t>(rank));
  std::swap(swapLastTwo[rank - 1], swapLastTwo[rank - 2]);
  if (permutation != ArrayRef(swapLastTwo))
    return success();
  SmallVector<OpFoldResult> tiles(rank, rewriter.getIndexAttr(1));
  tiles[rank - 1] = tiles[rank - 2] = rewriter.getIndexAttr(lanes);
  scf::SCFTilingOptions options;
  options.setTileSizes(tiles);
  rewriter.setInsertionPoint(transpose);
  FailureOr<scf::SCFTilingResult> squares = scf::tileUsingSCF(
      rewriter, cast<TilingInterface>(transpose.getOperation()), options);
  if (failed(squares))
    return failure();
  rewriter.replaceOp(transpose, squares->replacements);
  // Each square as a 2-D transpose (the vector lowering's shuffle form
  // takes only 2-D vectors): rank-reduced slices in and out.
  for (Operation *tiled : squares->tiledOps) {
    auto square = cast<linalg::TransposeOp>(tiled);
    Location loc = square.getLoc();
    rewriter.setInsertionPoint(square);
    auto squareType =
        RankedTensorType::get({lanes, lanes}, type.getElementType());
    Value input = tensor::createCanonicalRankReducingExtractSliceOp(
        rewriter, loc, square.getInput(), squareType);
    Value init = tensor::createCanonicalRankReducingExtractSliceOp(
        rewriter, loc, square.getInit(), squareType);
    auto transposed = linalg::TransposeOp::create(rewriter, loc, input, init,
                                                  ArrayRef<int64_t>{1, 0});
    transposed->setAttr(kMicroKernel, rewriter.getUnitAttr());
    rewriter.replaceOp(
        square, tensor::createCanonicalRankReducingInsertSliceOp(
                    rewriter, loc, transposed->getResult(0), square.getInit()));
  }
  return success();
}

/// Packs b's block [.., K, CB] into panels [CB / NR, .., K, NR] (and the
/// output alike), so that the register tile reads NR contiguous values per
/// k: read in place, a block of a wide b hits the caches' sets at a stride
/// of a whole row. Returns the contraction over the packed operands.
FailureOr<linalg::GenericOp> packColumnPanels(RewriterBase &rewriter,
                                              linalg::GenericOp block,
                                              const ContractionPlan &plan,
                                              int64_t panel, int64_t lanes) {
  SmallVector<OpFoldResult> packedSizes(block.getNumLoops(),
                                        rewriter.getIndexAttr(0));
  packedSizes[plan.columnDim] = rewriter.getIndexAttr(panel);
  rewriter.setInsertionPoint(block);
  SmallVector<AffineMap> maps = block.getIndexingMapsArray(); // block dies
  FailureOr<linalg::PackResult> packed =
      linalg::pack(rewriter, block, packedSizes);
  if (failed(packed))
    return failure();
  // Panels outermost in b: [.., K, CB / NR, NR] -> [CB / NR, .., K, NR]
  // (the output keeps its order: its panels are rows' slices already).
  linalg::LinalgOp packedOp = packed->packedLinalgOp;
  SmallVector<linalg::PackOp> packs;
  for (linalg::PackOp pack : packed->packOps) {
    auto use = llvm::find_if(pack->getUses(), [&](OpOperand &use) {
      return use.getOwner() == packedOp.getOperation();
    });
    if (use == pack->getUses().end() || packedOp.isDpsInit(&*use)) {
      packs.push_back(pack);
      continue;
    }
    AffineMap map = maps[use->getOperandNumber()];
    std::optional<unsigned> position = map.getResultPosition(
        getAffineDimExpr(plan.columnDim, map.getContext()));
    if (!position)
      return failure();
    SmallVector<int64_t> outerPerm = {int64_t(*position)};
    for (int64_t d = 0, e = map.getNumResults(); d < e; ++d)
      if (d != int64_t(*position))
        outerPerm.push_back(d);
    FailureOr<linalg::PackTransposeResult> transposed = linalg::packTranspose(
        rewriter, pack, packedOp, /*maybeUnPackOp=*/nullptr, outerPerm, {});
    if (failed(transposed))
      return failure();
    packedOp = transposed->transposedLinalgOp;
    packs.push_back(transposed->transposedPackOp);
  }
  for (linalg::PackOp pack : packs) {
    rewriter.setInsertionPoint(pack);
    FailureOr<linalg::LowerPackResult> lowered =
        linalg::lowerPack(rewriter, pack);
    if (failed(lowered))
      return failure();
    if (lowered->transposeOp &&
        failed(tileTransposeSquares(rewriter, lowered->transposeOp, lanes)))
      return failure();
  }
  for (linalg::UnPackOp unpack : packed->unPackOps) {
    rewriter.setInsertionPoint(unpack);
    if (failed(linalg::lowerUnPack(rewriter, unpack)))
      return failure();
  }
  auto generic = dyn_cast<linalg::GenericOp>(packedOp.getOperation());
  if (!generic)
    return failure();
  return generic;
}

/// The row count of `op` at run time.
Value rowCount(OpBuilder &b, linalg::GenericOp op, unsigned rowDim) {
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (auto [position, expr] : llvm::enumerate(map.getResults()))
      if (auto dim = dyn_cast<AffineDimExpr>(expr);
          dim && dim.getPosition() == rowDim)
        return tensor::DimOp::create(b, op.getLoc(), operand.get(), position);
  }
  return {};
}

/// Register tiles of `rowTile` rows x `columnTile` columns (0: the whole
/// panel) over `op`, a block, the reduction innermost; marks the ops to
/// vectorize once the rows and columns peeled off leave them static.
LogicalResult tileRegisters(RewriterBase &rewriter, linalg::GenericOp op,
                            const ContractionPlan &plan, const TileSizes &sizes,
                            int64_t rowTile, int64_t columnTile) {
  MLIRContext *ctx = rewriter.getContext();
  SmallVector<OpFoldResult> microTiles =
      loopTiles(rewriter, op, plan, rowTile, columnTile, plan.dot ? 0 : 1);
  FailureOr<scf::SCFTilingResult> micro = tile(rewriter, op, plan, microTiles);
  if (failed(micro))
    return failure();
  auto kernel = cast<linalg::GenericOp>(micro->tiledOps.front());
  scf::ForOp rowLoop =
      plan.rowDim == plan.columnDim
          ? scf::ForOp()
          : loopOver(micro->loops, op, plan, microTiles, plan.rowDim);
  scf::ForOp columnLoop =
      loopOver(micro->loops, op, plan, microTiles, plan.columnDim);

  if (plan.dot) {
    // acc[.., VL] += a * b over k in steps of VL, then the lanes summed.
    SmallVector<OpFoldResult> laneTiles(kernel.getNumLoops(),
                                        rewriter.getIndexAttr(0));
    laneTiles[plan.reductionDims.front()] = rewriter.getIndexAttr(sizes.lanes);
    rewriter.setInsertionPoint(kernel);
    FailureOr<scf::SCFTilingResult> lanes = scf::tileReductionUsingScf(
        rewriter, cast<PartialReductionOpInterface>(kernel.getOperation()),
        laneTiles);
    if (failed(lanes))
      return failure();
    rewriter.replaceOp(kernel, lanes->replacements);
    for (Operation *tiled : lanes->tiledOps)
      tiled->setAttr(kMicroKernel, UnitAttr::get(ctx));
    for (Operation *merge : lanes->mergeOps)
      merge->setAttr(kMicroKernel, UnitAttr::get(ctx));
    for (Value init : lanes->initialValues)
      if (Operation *fill = init.getDefiningOp())
        fill->setAttr(kMicroKernel, UnitAttr::get(ctx));
  } else {
    kernel->setAttr(kMicroKernel, UnitAttr::get(ctx));
  }
  // The rows come in whole tiles (tileContraction splits the leftover rows
  // off; GEMVs step by one row), so the peeled row remainder never runs: it
  // goes, rather than being compiled for nothing.
  if (scf::ForOp rowRemainder = peel(rewriter, rowLoop))
    rewriter.replaceOp(rowRemainder, rowRemainder.getInitArgs());
  peel(rewriter, columnLoop);
  return success();
}

/// Whether `op` is worth threads: its weight-sized operand (columns x the
/// reductions) holds at least kMinWorkForThreads values. Smaller ones (a toy
/// model's projections) run faster than a fork and join of the thread pool.
/// A sum of run-time length (attention over the keys) has no weight to size
/// it: its multiply-adds count instead, each run-time extent as
/// kAssumedDynamicExtent. A contraction already inside a parallel loop (a
/// column block of fused projections) runs on that loop's thread.
bool worthThreads(linalg::GenericOp op, const ContractionPlan &plan) {
  if (op->getParentOfType<scf::ForallOp>())
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  auto extent = [&](unsigned d) {
    return ShapedType::isDynamic(ranges[d]) ? mlir::llama::kAssumedDynamicExtent
                                            : ranges[d];
  };
  int64_t work = ranges[plan.columnDim];
  bool runTimeSum = false;
  for (unsigned d : plan.reductionDims) {
    runTimeSum |= ShapedType::isDynamic(ranges[d]);
    work *= extent(d);
  }
  if (runTimeSum)
    for (unsigned d = 0, e = op.getNumLoops(); d < e; ++d)
      if (d != plan.columnDim && !llvm::is_contained(plan.reductionDims, d))
        work *= extent(d);
  return work >= mlir::llama::kMinWorkForThreads;
}

/// A sum longer than this is packed in blocks of k: b's block of 128
/// columns x 1024 k is 512 KB in f32, about what L2 holds beside the rows'
/// data. Packed over all of a long k (the LM head's dX = dY . W sums over
/// 32000 vocabulary rows: a 16 MB block), each row tile streamed its panels
/// from memory (10 % of a stories110M training step; 4 % in blocks).
constexpr int64_t kMaxPackedReduction = 1024;

/// Splits the (last) sum of a block longer than kMaxPackedReduction into an
/// scf.for over blocks of 512 or 256 values of k, whichever divides it (the
/// packing squares stay static); the output accumulates across the k
/// blocks. Returns the op of one k block.
FailureOr<linalg::GenericOp> tileReductionBlocks(RewriterBase &rewriter,
                                                 linalg::GenericOp block,
                                                 const ContractionPlan &plan) {
  unsigned kDim = plan.reductionDims.back();
  int64_t k = block.getStaticLoopRanges()[kDim];
  if (ShapedType::isDynamic(k) || k <= kMaxPackedReduction)
    return block;
  int64_t kBlock = k % 512 == 0 ? 512 : k % 256 == 0 ? 256 : 0;
  if (!kBlock)
    return block;
  SmallVector<OpFoldResult> tiles(block.getNumLoops(),
                                  rewriter.getIndexAttr(0));
  tiles[kDim] = rewriter.getIndexAttr(kBlock);
  FailureOr<scf::SCFTilingResult> kBlocks = tile(rewriter, block, plan, tiles);
  if (failed(kBlocks))
    return failure();
  return cast<linalg::GenericOp>(kBlocks->tiledOps.front());
}

/// Widens the block's narrow (bf16, f16) inputs to f32 before they are
/// packed: the panels are then f32 and the kernel the f32 one, instead of
/// widening every value of a panel once per row tile (bf16 prefill ran 15 %
/// slower than f32).
void widenNarrowInputs(RewriterBase &rewriter, linalg::GenericOp block) {
  Block &body = block.getRegion().front();
  for (OpOperand *input : block.getDpsInputOperands()) {
    BlockArgument arg = body.getArgument(input->getOperandNumber());
    auto type = dyn_cast<RankedTensorType>(input->get().getType());
    if (!type || !arg.hasOneUse())
      continue;
    auto ext = dyn_cast<arith::ExtFOp>(*arg.getUsers().begin());
    if (!ext)
      continue;
    Type wide = ext.getType();
    Location loc = block.getLoc();
    rewriter.setInsertionPoint(block);
    Value init = tensor::EmptyOp::create(
        rewriter, loc, tensor::getMixedSizes(rewriter, loc, input->get()),
        wide);
    int64_t rank = type.getRank();
    SmallVector<AffineMap> maps(2, rewriter.getMultiDimIdentityMap(rank));
    Value widened =
        linalg::GenericOp::create(
            rewriter, loc, init.getType(), input->get(), init, maps,
            SmallVector<utils::IteratorType>(rank,
                                             utils::IteratorType::parallel),
            [&](OpBuilder &b, Location l, ValueRange args) {
              linalg::YieldOp::create(
                  b, l, ValueRange{arith::ExtFOp::create(b, l, wide, args[0])});
            })
            .getResult(0);
    rewriter.modifyOpInPlace(block, [&] {
      input->set(widened);
      arg.setType(wide);
      rewriter.replaceAllUsesWith(ext.getResult(), arg);
    });
    rewriter.eraseOp(ext);
  }
}

/// Cache blocks (b's block packed into panels for the outer product), then
/// register tiles over the whole tiles' rows and over the leftover rows.
LogicalResult tileContraction(RewriterBase &rewriter, linalg::GenericOp op,
                              const ContractionPlan &plan, TileSizes sizes,
                              int64_t lanes) {
  // Outer product over whole column panels: blocks of all rows by CB
  // columns, b's block packed once per block.
  int64_t columns = op.getStaticLoopRanges()[plan.columnDim];
  TileSizes panelSizes = tileSizesFor(/*dot=*/false, lanes);
  int64_t packedBlock = packedBlockColumns(columns, panelSizes.columns);
  SmallVector<OpFoldResult> blockTiles =
      packedBlock ? loopTiles(rewriter, op, plan, 0, packedBlock, 0)
                  : loopTiles(rewriter, op, plan, sizes.blockRows,
                              sizes.blockColumns, 0);
  FailureOr<scf::SCFTilingResult> blocks =
      tile(rewriter, op, plan, blockTiles, worthThreads(op, plan));
  if (failed(blocks))
    return failure();
  auto block = cast<linalg::GenericOp>(blocks->tiledOps.front());
  ContractionPlan blockPlan = plan;
  int64_t microColumns = sizes.columns;
  if (packedBlock) {
    FailureOr<linalg::GenericOp> reductionBlock =
        tileReductionBlocks(rewriter, block, plan);
    if (failed(reductionBlock))
      return failure();
    block = *reductionBlock;
    widenNarrowInputs(rewriter, block);
    FailureOr<linalg::GenericOp> packed =
        packColumnPanels(rewriter, block, plan, panelSizes.columns, lanes);
    if (failed(packed))
      return failure();
    std::optional<ContractionPlan> panelPlan = planContraction(*packed, lanes);
    if (!panelPlan || panelPlan->dot)
      return failure();
    block = *packed;
    blockPlan = *panelPlan;
    blockPlan.panelDim = plan.columnDim;
    microColumns = 0; // the whole panel
    sizes = panelSizes;
  }

  // Whole register tiles of MR rows, then the leftover rows (fewer than
  // MR) one at a time: both vectorized, whatever the row count.
  rewriter.setInsertionPoint(block);
  Value rows = rowCount(rewriter, block, blockPlan.rowDim);
  AffineExpr r = rewriter.getAffineDimExpr(0);
  OpFoldResult wholeRows = affine::makeComposedFoldedAffineApply(
      rewriter, block.getLoc(), r.floorDiv(sizes.rows) * sizes.rows,
      {OpFoldResult(rows)});
  auto [whole, rest] =
      linalg::splitOp(rewriter, cast<TilingInterface>(block.getOperation()),
                      blockPlan.rowDim, wholeRows);
  for (auto [part, rowTile] :
       {std::pair{whole, sizes.rows}, std::pair{rest, int64_t(1)}}) {
    auto generic = dyn_cast_or_null<linalg::GenericOp>(part.getOperation());
    if (generic && failed(tileRegisters(rewriter, generic, blockPlan, sizes,
                                        rowTile, microColumns)))
      return failure();
  }
  return success();
}

/// A GEMV (decode's projections, the LM head of one row, attention's P . V
/// of one query): the columns split into chunks of `kGemvColumns` run on
/// separate threads, each streaming its rows of the weight. With both operands
/// along k, each chunk is register tiled as a dot kernel of one row by
/// `kGemvTileColumns` columns: a VL-lane accumulator per column, the weight
/// read at vector width, the lanes summed once per column. One column at a time
/// reads the chunk's weight rows as a single contiguous stream: measured on
/// stories110M decode (AVX-512, one thread), bf16 weights ran at 43 tok/s with
/// 1 column, 36 with 4 and 26 with 8 (eight interleaved row streams stalled on
/// loads); f32 24/25/21.
constexpr int64_t kGemvColumns = 64;
constexpr int64_t kGemvTileColumns = 1;

LogicalResult tileGemv(RewriterBase &rewriter, linalg::GenericOp op,
                       const ContractionPlan &plan, int64_t lanes,
                       bool &vectorized) {
  int64_t columns = op.getStaticLoopRanges()[plan.columnDim];
  if (columns >= 2 * kGemvColumns && worthThreads(op, plan)) {
    FailureOr<linalg::GenericOp> chunk = mlir::llama::splitIntoParallelChunks(
        rewriter, op, plan.columnDim, kGemvColumns);
    if (failed(chunk))
      return failure();
    op = *chunk;
  }
  TileSizes sizes = tileSizesFor(plan.dot, lanes);
  vectorized = true;
  if (plan.dot)
    return tileRegisters(rewriter, op, plan, sizes, /*rowTile=*/1,
                         kGemvTileColumns);
  // b along the columns (decode's P . V over the cache): one row of the
  // outer-product kernel, each k a broadcast of a times NR contiguous
  // values of b (left to LLVM, the sum over k was vectorized with gathers
  // at the cache's row stride).
  return tileRegisters(rewriter, op, plan, sizes, /*rowTile=*/1, sizes.columns);
}

/// For a dynamic row count: `if rows >= MR { op (to be tiled) } else { op }`.
/// Returns the ops in the two branches.
std::pair<linalg::GenericOp, linalg::GenericOp>
versionOnRows(RewriterBase &rewriter, linalg::GenericOp op,
              const ContractionPlan &plan, int64_t minRows) {
  Location loc = op.getLoc();
  rewriter.setInsertionPoint(op);
  Value rows = rowCount(rewriter, op, plan.rowDim);
  Value enough = arith::CmpIOp::create(
      rewriter, loc, arith::CmpIPredicate::sge, rows,
      arith::ConstantIndexOp::create(rewriter, loc, minRows));
  auto branch = scf::IfOp::create(rewriter, loc, op->getResultTypes(), enough,
                                  /*withElseRegion=*/true);
  rewriter.setInsertionPointToStart(branch.thenBlock());
  auto tiled = cast<linalg::GenericOp>(rewriter.clone(*op));
  scf::YieldOp::create(rewriter, loc, tiled->getResults());
  rewriter.setInsertionPointToStart(branch.elseBlock());
  auto plain = cast<linalg::GenericOp>(rewriter.clone(*op));
  scf::YieldOp::create(rewriter, loc, plain->getResults());
  rewriter.replaceOp(op, branch.getResults());
  return {tiled, plain};
}

/// Drops the loops of size 1 from a reduction (batch dims, a packed panel's
/// index, all but one of several summed dims — dW sums over batch and
/// sequence): vector.contract lowers to outer products only from a plain
/// matmul shape, and with unit dims left in it fell back to one scalar dot
/// product per output element. Returns the op to vectorize.
linalg::LinalgOp dropUnitLoops(RewriterBase &rewriter, linalg::GenericOp op) {
  if (op.getNumReductionLoops() == 0)
    return op;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  auto isReduction = [&](unsigned d) {
    return iterators[d] == utils::IteratorType::reduction;
  };
  // The reduction that stays when every one is of size 1: the last.
  std::optional<unsigned> keptReduction;
  if (llvm::all_of(llvm::seq<unsigned>(0, ranges.size()), [&](unsigned d) {
        return !isReduction(d) || ranges[d] == 1;
      }))
    for (unsigned d = 0, e = ranges.size(); d < e; ++d)
      if (isReduction(d))
        keptReduction = d;
  SmallVector<unsigned> unitDims;
  for (unsigned d = 0, e = ranges.size(); d < e; ++d)
    if (ranges[d] == 1 && d != keptReduction)
      unitDims.push_back(d);
  if (unitDims.empty())
    return op;
  linalg::ControlDropUnitDims options;
  options.rankReductionStrategy =
      linalg::ControlDropUnitDims::RankReductionStrategy::ExtractInsertSlice;
  options.controlFn = [&](Operation *) { return unitDims; };
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::DropUnitDimsResult> dropped =
      linalg::dropUnitDims(rewriter, op, options);
  if (failed(dropped))
    return op;
  rewriter.replaceOp(op, dropped->replacements);
  return cast<linalg::LinalgOp>(dropped->resultOp.getOperation());
}

/// Vectorizes the marked ops whose shapes peeling made static; the others
/// (remainders) stay loops.
void vectorizeMicroKernels(RewriterBase &rewriter, func::FuncOp func) {
  SmallVector<linalg::LinalgOp> marked;
  func.walk([&](linalg::LinalgOp op) {
    if (op->hasAttr(kMicroKernel))
      marked.push_back(op);
  });
  for (linalg::LinalgOp op : marked) {
    op->removeAttr(kMicroKernel);
    if (op.hasDynamicShape())
      continue;
    if (auto generic = dyn_cast<linalg::GenericOp>(op.getOperation()))
      op = dropUnitLoops(rewriter, generic);
    rewriter.setInsertionPoint(op);
    FailureOr<linalg::VectorizationResult> result =
        linalg::vectorize(rewriter, op);
    if (succeeded(result))
      rewriter.replaceOp(op, result->replacements);
  }
}

struct TileContractionsPass
    : mlir::llama::impl::LlamaTileContractionsPassBase<TileContractionsPass> {
  using LlamaTileContractionsPassBase::LlamaTileContractionsPassBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *ctx = &getContext();
    int64_t lanes = vectorBits / 32; // f32 lanes
    if (lanes < 4)
      return;

    SmallVector<std::pair<linalg::GenericOp, ContractionPlan>> work;
    func.walk([&](linalg::GenericOp op) {
      if (std::optional<ContractionPlan> plan = planContraction(op, lanes))
        work.push_back({op, *plan});
    });
    IRRewriter rewriter(ctx);
    bool tiled = false;
    for (auto [op, plan] : work) {
      TileSizes sizes = tileSizesFor(plan.dot, lanes);
      if (plan.fewRows) {
        if (failed(tileGemv(rewriter, op, plan, lanes, tiled)))
          return signalPassFailure();
        continue;
      }
      linalg::GenericOp target = op;
      if (ShapedType::isDynamic(op.getStaticLoopRanges()[plan.rowDim])) {
        auto [many, few] = versionOnRows(rewriter, op, plan, sizes.rows);
        if (failed(tileGemv(rewriter, few, plan, lanes, tiled)))
          return signalPassFailure();
        target = many;
      }
      if (failed(tileContraction(rewriter, target, plan, sizes, lanes)))
        return signalPassFailure();
      tiled = true;
    }
    if (!tiled)
      return;

    // Fold the peeled tiles' sizes into static types, then vectorize them.
    RewritePatternSet canonical(ctx);
    for (Dialect *dialect : ctx->getLoadedDialects())
      dialect->getCanonicalizationPatterns(canonical);
    for (RegisteredOperationName name : ctx->getRegisteredOperations())
      name.getCanonicalizationPatterns(canonical, ctx);
    if (failed(applyPatternsGreedily(func, std::move(canonical))))
      return signalPassFailure();
    vectorizeMicroKernels(rewriter, func);

    // Contractions out of the vectorized mul/add, transfers simplified, and
    // the accumulators hoisted out of the k loops into registers.
    RewritePatternSet vectorPatterns(ctx);
    vector::populateVectorReductionToContractPatterns(vectorPatterns);
    vector::populateVectorTransferPermutationMapLoweringPatterns(
        vectorPatterns);
    vector::populateSinkVectorOpsPatterns(vectorPatterns);
    // The packing squares' transposes as shuffles now: once the transfers
    // are unrolled into rows, the canonicalizer would fold each row of the
    // transpose into single-element extracts and inserts.
    vector::populateVectorTransposeLoweringPatterns(
        vectorPatterns, lanes == 16
                            ? vector::VectorTransposeLowering::Shuffle16x16
                            : vector::VectorTransposeLowering::Shuffle1D);
    vector::TransferReadOp::getCanonicalizationPatterns(vectorPatterns, ctx);
    vector::TransferWriteOp::getCanonicalizationPatterns(vectorPatterns, ctx);
    if (failed(applyPatternsGreedily(func, std::move(vectorPatterns))))
      return signalPassFailure();
    SmallVector<LoopLikeOpInterface> loops; // innermost first
    func.walk([&](LoopLikeOpInterface loop) { loops.push_back(loop); });
    for (LoopLikeOpInterface &loop : loops)
      hoistLoopInvariantSubsets(rewriter, loop);
  }
};

} // namespace
