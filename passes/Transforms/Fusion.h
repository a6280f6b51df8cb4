//===- Fusion.h - how the llama-level fusion passes rewrite -----*- C++ -*-===//
#ifndef LLAMAC_PASSES_TRANSFORMS_FUSION_H
#define LLAMAC_PASSES_TRANSFORMS_FUSION_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::llama {

/// Applies a fusion's patterns to `op` and nothing else: no folding, no
/// constant CSE, no region simplification, so that the IR otherwise stays
/// as it was (the llama-level IR that --emit=llama shows).
LogicalResult applyFusionPatterns(Operation *op, RewritePatternSet &&patterns);

} // namespace mlir::llama

#endif // LLAMAC_PASSES_TRANSFORMS_FUSION_H
