//===- Projections.cpp - linear layers of one input, in column blocks -----===//
//
// llama.projections and llama.swiglu_projection as one loop over P blocks of
// columns: iteration p computes columns [p N_i / P, (p + 1) N_i / P) of every
// product x . W_i^T (contractions over a slice of each weight's rows, which
// llama-tile-contractions tiles like any other) and, for the SwiGLU,
// combines the block's gate and up columns while they are in cache. The
// blocks run on threads (an scf.forall) when the weights are worth a fork:
// one fork and join for all the projections instead of one each.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Conversion/LlamaToLinalg/Patterns.h"
#include "passes/Transforms/Chunks.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::llama {

using namespace lowering;

namespace {

/// Columns per block of the narrowest product: 64, or 32 where 64 would
/// leave fewer than kMinBlocks blocks for the threads to share (TinyLlama's
/// 256 key/value columns). Both are whole register panels on every target
/// (at most 2 x 16 f32 lanes).
constexpr int64_t kBlockWidths[] = {64, 32};
constexpr int64_t kMinBlocks = 8;

/// P: how many blocks the products of `columns` split into, each product
/// into P equal blocks of a whole number of widths (GQA's q has G times
/// k's columns: blocks G times as wide); 1 when they do not split so
/// (run-time or odd widths, toy models).
int64_t blockCount(ArrayRef<int64_t> columns) {
  if (llvm::any_of(columns, ShapedType::isDynamic))
    return 1;
  int64_t narrowest = *llvm::min_element(columns);
  for (int64_t width : kBlockWidths) {
    int64_t blocks = narrowest / width;
    if (narrowest % width != 0 || blocks < 2 ||
        llvm::any_of(
            columns, [&](int64_t n) { return n % (blocks * width) != 0; }))
      continue;
    if (blocks >= kMinBlocks || width == kBlockWidths[1])
      return blocks;
  }
  return 1;
}

/// The weights' values: what decides whether the blocks are worth a fork and
/// join, as llama-tile-contractions judges one projection.
int64_t weightValues(ValueRange weights) {
  int64_t values = 0;
  for (Value weight : weights)
    values += cast<RankedTensorType>(weight.getType()).getNumElements();
  return values;
}

/// An uninitialized tensor of `type` with x's run-time sizes (a
/// destination).
Value emptyLike(OpBuilder &b, Location loc, Value x, RankedTensorType type) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  sizes.back() = b.getIndexAttr(type.getShape().back());
  return emptyTensor(b, loc, sizes, type.getElementType());
}

/// What becomes of the products: each is an output (llama.projections), or
/// the SwiGLU of the two is the one output (llama.swiglu_projection).
enum class Epilogue { None, SwiGLU };

/// The outputs `outs` (destinations of their types) of x [..., K] times
/// each weight [N_i, K], whole or block by block. Each block is computed
/// into its slice of the outputs, which bufferizes in place.
SmallVector<Value> projectInBlocks(OpBuilder &b, Location loc, Value x,
                                   ValueRange weights, ValueRange outs,
                                   Epilogue epilogue, ParallelPolicy policy) {
  // Products of the weights (or of their blocks) into `dests`: the
  // outputs themselves, or fresh accumulators for the SwiGLU's operands.
  auto project = [&](OpBuilder &b, Location loc, ValueRange weights,
                     ValueRange dests) -> SmallVector<Value> {
    if (epilogue == Epilogue::None) {
      Value zero = floatConstant(
          b, loc, cast<RankedTensorType>(x.getType()).getElementType(), 0.0);
      SmallVector<Value> products;
      for (auto [weight, dest] : llvm::zip_equal(weights, dests))
        products.push_back(linearProduct(
            b, loc, x, weight,
            linalg::FillOp::create(b, loc, zero, dest).getResult(0)));
      return products;
    }
    return {swiglu(b, loc, linearProduct(b, loc, x, weights[0]),
                   linearProduct(b, loc, x, weights[1]), dests[0])};
  };

  SmallVector<int64_t> columns;
  for (Value weight : weights)
    columns.push_back(cast<RankedTensorType>(weight.getType()).getDimSize(0));
  // On a GPU each product is its own grid over its columns
  // (llama-warp-contractions for decode): the blocks are for CPU caches.
  int64_t blocks = policy.always ? 1 : blockCount(columns);
  if (blocks == 1)
    return project(b, loc, weights, outs);
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  return forEachPoint(
      b, loc, {b.getIndexAttr(blocks)}, outs,
      policy.parallel(weightValues(weights)),
      [&](OpBuilder &b, Location loc, ValueRange ivs, ValueRange outArgs) {
        // Block p of a tensor whose last dim has `n` columns: its rows
        // [p n / P, (p + 1) n / P) for a weight, its columns for an output.
        auto block = [&](Value tensor, unsigned dim, int64_t n) {
          Tile tile{tensor, {}, {}, {}};
          tile.sizes = tensor::getMixedSizes(b, loc, tensor);
          tile.offsets.assign(tile.sizes.size(), b.getIndexAttr(0));
          tile.strides.assign(tile.sizes.size(), b.getIndexAttr(1));
          tile.offsets[dim] =
              arith::MulIOp::create(b, loc, ivs[0],
                                    indexConstant(b, loc, n / blocks))
                  .getResult();
          tile.sizes[dim] = b.getIndexAttr(n / blocks);
          return tile;
        };
        auto slice = [&](const Tile &tile) -> Value {
          return tensor::ExtractSliceOp::create(
              b, loc, tile.value, tile.offsets, tile.sizes, tile.strides);
        };
        SmallVector<Value> weightBlocks; // [N_i / P, K]
        for (auto [weight, n] : llvm::zip_equal(weights, columns))
          weightBlocks.push_back(slice(block(weight, 0, n)));
        SmallVector<Tile> tiles;
        for (Value out : outArgs)
          tiles.push_back(
              block(out, rank - 1,
                    cast<RankedTensorType>(out.getType()).getShape().back()));
        SmallVector<Value> outBlocks = llvm::map_to_vector(tiles, slice);
        for (auto [tile, value] :
             llvm::zip_equal(tiles, project(b, loc, weightBlocks, outBlocks)))
          tile.value = value;
        return tiles;
      },
      policy.mapping(b, 1));
}

struct ProjectionsLowering : FusedLoopLowering<ProjectionsOp> {
  using FusedLoopLowering::FusedLoopLowering;
  LogicalResult
  matchAndRewrite(ProjectionsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<Value> outs;
    for (Type type : op.getResultTypes())
      outs.push_back(emptyLike(rewriter, loc, adaptor.getInput(),
                               cast<RankedTensorType>(type)));
    rewriter.replaceOp(op, projectInBlocks(rewriter, loc, adaptor.getInput(),
                                           adaptor.getWeights(), outs,
                                           Epilogue::None, policy));
    return success();
  }
};

struct SwiGLUProjectionLowering : FusedLoopLowering<SwiGLUProjectionOp> {
  using FusedLoopLowering::FusedLoopLowering;
  LogicalResult
  matchAndRewrite(SwiGLUProjectionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value out = emptyLike(rewriter, loc, adaptor.getInput(), op.getType());
    rewriter.replaceOp(
        op, projectInBlocks(rewriter, loc, adaptor.getInput(),
                            {adaptor.getGateWeight(), adaptor.getUpWeight()},
                            out, Epilogue::SwiGLU, policy));
    return success();
  }
};

} // namespace

void populateProjectionLoweringPatterns(RewritePatternSet &patterns,
                                        ParallelPolicy policy) {
  patterns.add<ProjectionsLowering, SwiGLUProjectionLowering>(
      patterns.getContext(), policy);
}

} // namespace mlir::llama
