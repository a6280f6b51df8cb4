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

/// A reduction of a row (RMSNorm's sum of squares) that a later warp
/// reduction reading the same row (decode's projection of the normalized
/// row) recomputes in its own walk instead of reading: its result enters
/// the reader's body only through a factor of each product (the norm's
/// rsqrt), so the reader sums the products without it, and multiplies the
/// total by the factor once both sums are complete. One kernel fewer, and
/// no extra loads: the reader loads the row anyway.
struct FoldedSum {
  RowReduction sum;
  Value start;       // the sum's fill value
  unsigned sumInput; // the reader's input that reads the sum's result
  /// Per input of the sum: the reader's input that reads the same elements.
  SmallVector<unsigned> rowInputs;
  /// The reader's body ops that compute the factor from the sum (and
  /// constants), in order, and the factor.
  SmallVector<Operation *> factorOps;
  Value factor;
};

struct Stage {
  linalg::GenericOp op;
  StageKind kind;
  std::optional<RowReduction> reduction;
  Value start; // the reduction's fill value, taken when rewriting
  std::optional<FoldedSum> fold = {}; // a sum the reduction recomputes
};

/// A warp's work on its point, in order: row reductions and maps over the
/// same rows, later steps reading the earlier reductions' results at the
/// point from registers: softmax's max, sum of exponentials and
/// probabilities; RMSNorm's sum of squares and scaling; gate and up's
/// sums (reductions of the same shape, rows included) and their SwiGLU.
/// Every buffer the chain writes is accessed at the point only, each
/// element along a row by the lane that owns its k, so no warp waits for
/// another.
using Chain = SmallVector<Stage, 4>;

/// How each reader of the row reduction `sum`'s result recomputes it, when
/// every reader can (they follow it in its block, nothing between them
/// writes what it reads, and each is a sum of products with one factor
/// computed from it); empty otherwise. The fill of its result reaching
/// `sum` gives `start` (the caller takes it).
DenseMap<Operation *, FoldedSum> matchFoldedSum(RowReduction sum);

/// The chain starting at the reduction `first`: one stage when nothing that
/// follows fits.
Chain matchChain(RowReduction first);

} // namespace mlir::llama::warp

#endif // LLAMAC_PASSES_TARGET_NVIDIA_ROWREDUCTIONS_H
