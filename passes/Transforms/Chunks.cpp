//===- Chunks.cpp - one loop of a linalg op split over threads ------------===//

#include "passes/Transforms/Chunks.h"

#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"

namespace mlir::llama {

FailureOr<linalg::GenericOp> splitIntoParallelChunks(RewriterBase &rewriter,
                                                     linalg::GenericOp op,
                                                     unsigned dim,
                                                     int64_t chunk) {
  SmallVector<OpFoldResult> tiles(op.getNumLoops(), rewriter.getIndexAttr(0));
  tiles[dim] = rewriter.getIndexAttr(chunk);
  scf::SCFTilingOptions options;
  options.setTileSizes(tiles);
  options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
  rewriter.setInsertionPoint(op);
  FailureOr<scf::SCFTilingResult> result = scf::tileUsingSCF(
      rewriter, cast<TilingInterface>(op.getOperation()), options);
  if (failed(result))
    return failure();
  rewriter.replaceOp(op, result->replacements);
  return cast<linalg::GenericOp>(result->tiledOps.front());
}

} // namespace mlir::llama
