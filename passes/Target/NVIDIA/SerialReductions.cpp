//===- SerialReductions.cpp - reductions a thread finishes in registers ---===//
//
// A reduction whose reduced dim is not contiguous (attention's weighted sum
// of values, out[h, g, d] += p[h, g, t] * v[t, h, d]: the threads go along
// d, each summing over t) stays a thread per output element. Lowered as
// linalg does it, every step loads and stores the output in global memory,
// and a fill of the output is a kernel of its own. Here each point keeps
// its sum in a register from the fill's value (or the output's old value),
// steps through the reduced dims in order, and stores once: a parallel
// loop over the output holding serial loops over the reduced dims, which
// llama-map-loops-to-threads then spreads over threads like any other.
//
// Runs on buffers, after llama-warp-contractions took the contiguous
// reductions.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMASERIALREDUCTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// A reduction into one output, every operand indexed by its loops (a
/// projected permutation), the output by all the parallel ones.
bool isSerialReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() == 0 || op.hasIndexSemantics())
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  AffineMap out = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  return out.getNumResults() == op.getNumParallelLoops();
}

void rewrite(linalg::GenericOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value out = op.getDpsInits()[0];
  Value start = mlir::llama::takeFill(op, out);
  SmallVector<Value> sizes;
  for (Range range :
       cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc))
    sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
  SmallVector<unsigned> parallel, reduced;
  for (auto [d, type] : llvm::enumerate(op.getIteratorTypesArray()))
    (type == utils::IteratorType::parallel ? parallel : reduced).push_back(d);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto sizesOf = [&](ArrayRef<unsigned> dims) {
    return llvm::map_to_vector(dims, [&](unsigned d) { return sizes[d]; });
  };
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  SmallVector<Value> ivs(op.getNumLoops());
  auto indices = [&](OpOperand *operand) {
    return mlir::llama::indicesAt(op, operand, ivs);
  };
  scf::ParallelOp::create(
      b, loc, SmallVector<Value>(parallel.size(), zero), sizesOf(parallel),
      SmallVector<Value>(parallel.size(), one),
      [&](OpBuilder &b, Location loc, ValueRange point) {
        for (auto [d, iv] : llvm::zip_equal(parallel, point))
          ivs[d] = iv;
        OpOperand *init = op.getDpsInitOperand(0);
        Value first =
            start ? start : memref::LoadOp::create(b, loc, out, indices(init));
        scf::LoopNest nest = scf::buildLoopNest(
            b, loc, SmallVector<Value>(reduced.size(), zero), sizesOf(reduced),
            SmallVector<Value>(reduced.size(), one), ValueRange{first},
            [&](OpBuilder &b, Location loc, ValueRange steps,
                ValueRange acc) -> scf::ValueVector {
              for (auto [d, iv] : llvm::zip_equal(reduced, steps))
                ivs[d] = iv;
              IRMapping mapping;
              for (OpOperand *input : op.getDpsInputOperands())
                mapping.map(op.getMatchingBlockArgument(input),
                            memref::LoadOp::create(b, loc, input->get(),
                                                   indices(input)));
              mapping.map(op.getMatchingBlockArgument(init), acc[0]);
              for (Operation &inner : body.without_terminator())
                b.clone(inner, mapping);
              return {mapping.lookupOrDefault(yield.getValues()[0])};
            });
        memref::StoreOp::create(b, loc, nest.results[0], out, indices(init));
      });
  op->erase();
}

struct SerialReductionsPass
    : mlir::llama::impl::LlamaSerialReductionsPassBase<SerialReductionsPass> {
  void runOnOperation() override {
    for (linalg::GenericOp op : mlir::llama::hostGenerics(getOperation()))
      if (isSerialReduction(op))
        rewrite(op);
  }
};

} // namespace
