//===- Patterns.h - llama to linalg pattern sets ----------------*- C++ -*-===//
#ifndef LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_PATTERNS_H
#define LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_PATTERNS_H

#include "mlir/IR/PatternMatch.h"

namespace mlir::llama {

/// The lowerings of the gradient ops (llama.*_grad), GradientsToLinalg.cpp.
void populateGradientLoweringPatterns(RewritePatternSet &patterns);

/// The lowerings of global_norm and adamw, OptimizerToLinalg.cpp.
void populateOptimizerLoweringPatterns(RewritePatternSet &patterns);

} // namespace mlir::llama

#endif // LLAMAC_PASSES_CONVERSION_LLAMATOLINALG_PATTERNS_H
