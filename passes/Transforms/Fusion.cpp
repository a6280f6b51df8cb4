//===- Fusion.cpp - how the llama-level fusion passes rewrite -------------===//

#include "passes/Transforms/Fusion.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llama {

LogicalResult applyFusionPatterns(Operation *op, RewritePatternSet &&patterns) {
  GreedyRewriteConfig config;
  config.enableFolding(false).enableConstantCSE(false);
  config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
  return applyPatternsGreedily(op, std::move(patterns), config);
}

} // namespace mlir::llama
