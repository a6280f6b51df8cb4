//===- Chunks.h - one loop of a linalg op split over threads ----*- C++ -*-===//
//
// Shared by the passes that put work on threads (llama-tile-contractions'
// GEMVs, llama-parallelize-rows).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TRANSFORMS_CHUNKS_H
#define LLAMAC_PASSES_TRANSFORMS_CHUNKS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llama {

/// When judging whether an op is worth a fork and join: a dynamic extent
/// (the prompt length, the keys so far) counts as this many...
constexpr int64_t kAssumedDynamicExtent = 64;
/// ...and ops with less work than this stay serial.
constexpr int64_t kMinWorkForThreads = int64_t(1) << 16;

/// Replaces `op` by an scf.forall over chunks of `chunk` iterations of its
/// loop `dim` (the chunks run on separate threads once lowered to OpenMP).
/// Returns the op that computes one chunk.
FailureOr<linalg::GenericOp> splitIntoParallelChunks(RewriterBase &rewriter,
                                                     linalg::GenericOp op,
                                                     unsigned dim,
                                                     int64_t chunk);

} // namespace mlir::llama

#endif // LLAMAC_PASSES_TRANSFORMS_CHUNKS_H
