//===- RowReductions.h - what llama-warp-contractions takes -----*- C++ -*-===//
//
// The reductions along a row's contiguous dim that become a warp per output
// point, and the chains of steps over the same rows that join them.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TARGET_NVIDIA_ROWREDUCTIONS_H
#define LLAMAC_PASSES_TARGET_NVIDIA_ROWREDUCTIONS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::llama::warp {

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

/// Whether `input` is read along k (the last loop).
bool readsAlongK(linalg::GenericOp op, OpOperand *input, unsigned k);

/// `op` as a row reduction, when it is one.
std::optional<RowReduction> matchRowReduction(linalg::GenericOp op);

/// What a step of a chain computes: a reduction along k; a map along the
/// row (loops p.., k); a map of the point (loops p..), after the reductions
/// (SwiGLU of the gate and up sums).
enum class StageKind { Reduction, RowMap, PointMap };

struct Stage {
  linalg::GenericOp op;
  StageKind kind;
  std::optional<RowReduction> reduction;
  Value start; // the reduction's fill value, taken when rewriting
};

/// A warp's work on its point, in order: row reductions and maps over the
/// same rows, later steps reading the earlier reductions' results at the
/// point from registers: softmax's max, sum of exponentials and
/// probabilities; RMSNorm's sum of squares and scaling; gate and up's
/// sums (reductions of the same shape, rows included) and their SwiGLU.
/// Every buffer the chain writes is accessed at the point only, each
/// element along a row by the lane that owns its k, so no warp waits for
/// another.
using Chain = SmallVector<Stage>;

/// The chain starting at the reduction `first`: one stage when nothing that
/// follows fits.
Chain matchChain(RowReduction first);

} // namespace mlir::llama::warp

#endif // LLAMAC_PASSES_TARGET_NVIDIA_ROWREDUCTIONS_H
