//===- MapLoopsToThreads.cpp - host parallel loops as blocks of threads ---===//
//
// Before gpu-map-parallel-loops, which maps an outermost scf.parallel to
// the grid and the one nested in it to the threads of a block: a parallel
// loop with no parallel loop inside (an elementwise op, a reduction's
// parallel dims) gets its innermost dim split into tiles of
// kThreadsPerBlock, so that threads run along the contiguous dim of a row.
// A loop with a parallel loop inside (a column block of fused projections,
// whose contractions are the inner loops) is left as it is: the blocks
// already have their threads; unless it also touches memory outside them
// (attention's rows, then the copy of its tile), which gpu-map-parallel-loops
// cannot split between threads: its inner loops become serial ones and its
// own innermost dim gets the threads.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/BufferAccess.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAMAPLOOPSTOTHREADSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// Threads of a block along a loop's innermost dim: 4 warps.
constexpr int64_t kThreadsPerBlock = 128;

/// Whether `loop`'s body reads or writes memory outside its nested parallel
/// loops (which convert-parallel-loops-to-gpu cannot map to threads).
bool touchesMemoryOutside(scf::ParallelOp loop) {
  WalkResult result =
      loop.getBody()->walk<WalkOrder::PreOrder>([&](Operation *op) {
        if (isa<scf::ParallelOp>(op))
          return WalkResult::skip();
        return mlir::llama::touchesBufferContents(op) ? WalkResult::interrupt()
                                                      : WalkResult::advance();
      });
  return result.wasInterrupted();
}

/// Replaces a parallel loop without reductions by a nest of scf.for.
LogicalResult sequentialize(RewriterBase &rewriter, scf::ParallelOp loop) {
  if (loop.getNumResults() != 0)
    return loop.emitError("a parallel loop with reductions inside a kernel");
  rewriter.setInsertionPoint(loop);
  scf::buildLoopNest(
      rewriter, loop.getLoc(), loop.getLowerBound(), loop.getUpperBound(),
      loop.getStep(), [&](OpBuilder &b, Location, ValueRange ivs) {
        IRMapping mapping;
        mapping.map(loop.getInductionVars(), ivs);
        for (Operation &op : loop.getBody()->without_terminator())
          b.clone(op, mapping);
      });
  rewriter.eraseOp(loop);
  return success();
}

/// The tile's innermost dim on thread x, its unit dims on y and z (then
/// serial): gpu-map-parallel-loops would map dims in order, which puts a
/// 3-d loop's 128 threads on z, where a block holds at most 64.
void mapThreadsAlongX(scf::ParallelOp threads) {
  MLIRContext *ctx = threads.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  unsigned dims = threads.getNumLoops();
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
  for (unsigned d = 0; d < dims; ++d) {
    gpu::Processor processor = d + 1 == dims ? gpu::Processor::ThreadX
                               : d == 0      ? gpu::Processor::ThreadY
                               : d == 1      ? gpu::Processor::ThreadZ
                                             : gpu::Processor::Sequential;
    mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(ctx, processor,
                                                           identity, identity));
  }
  (void)gpu::setMappingAttr(threads, mapping);
}

struct MapLoopsToThreadsPass
    : mlir::llama::impl::LlamaMapLoopsToThreadsPassBase<MapLoopsToThreadsPass> {
  void runOnOperation() override {
    // The foralls' GPU block mapping kept canonicalization from folding
    // their unit dims into host code; gpu-map-parallel-loops assigns the
    // processors, under the same attribute name.
    getOperation().walk(
        [](scf::ParallelOp loop) { loop->removeAttr("mapping"); });
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp loop : outermost) {
      SmallVector<scf::ParallelOp> inner;
      loop.getBody()->walk([&](scf::ParallelOp nested) {
        if (nested->getParentOfType<scf::ParallelOp>() == loop)
          inner.push_back(nested);
      });
      if (!inner.empty() && !touchesMemoryOutside(loop))
        continue; // the blocks' threads: the inner loops
      // Memory accessed between the inner loops (attention's row loop, then
      // the copy of its tile): each thread runs the inner loops in turn.
      for (scf::ParallelOp nested : inner)
        if (failed(sequentialize(rewriter, nested)))
          return signalPassFailure();
      SmallVector<int64_t> tiles(loop.getNumLoops(), 1);
      tiles.back() = kThreadsPerBlock;
      // Guards (no min/max bounds) keep the block's thread count constant.
      auto [grid, threads] =
          scf::tileParallelLoop(loop, tiles, /*noMinMaxBounds=*/true);
      mapThreadsAlongX(threads);
    }
  }
};

} // namespace
