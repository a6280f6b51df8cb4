//===- ParallelizeRows.cpp - row chunks of big linalg ops on threads ------===//
//
// What llama-tile-contractions leaves serial — norms, RoPE, SwiGLU, residual
// adds, the loss's softmax and the gradients of all of these — is
// split over its outermost parallel loop (the rows) into chunks that run on
// separate threads (an scf.forall, OpenMP once lowered). Only ops directly in
// a function body (no nested parallel regions) and big enough to be worth a
// fork and join.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Transforms/Chunks.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAPARALLELIZEROWSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// The number of rows per chunk: at least 16 chunks for the threads to share
/// when the row count is known, else 4 rows.
int64_t rowsPerChunk(int64_t rows) {
  if (ShapedType::isDynamic(rows))
    return 4;
  return std::max<int64_t>(1, rows / 16);
}

bool worthThreads(linalg::GenericOp op) {
  if (!op.hasPureTensorSemantics() || op.getNumLoops() == 0 ||
      op.getIteratorTypesArray().front() != utils::IteratorType::parallel ||
      !isa<func::FuncOp>(op->getParentOp()))
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (ranges.front() == 1)
    return false;
  int64_t iterations = 1;
  for (int64_t range : ranges)
    iterations *= ShapedType::isDynamic(range)
                      ? mlir::llama::kAssumedDynamicExtent
                      : range;
  return iterations >= mlir::llama::kMinWorkForThreads;
}

struct ParallelizeRowsPass
    : mlir::llama::impl::LlamaParallelizeRowsPassBase<ParallelizeRowsPass> {
  using LlamaParallelizeRowsPassBase::LlamaParallelizeRowsPassBase;

  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) {
      if (worthThreads(op))
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops)
      if (failed(mlir::llama::splitIntoParallelChunks(
              rewriter, op, 0, rowsPerChunk(op.getStaticLoopRanges().front()))))
        return signalPassFailure();
  }
};

} // namespace
