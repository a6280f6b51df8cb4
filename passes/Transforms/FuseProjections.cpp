//===- FuseProjections.cpp - linear layers of one input as one op ---------===//
//
// The q, k and v projections read the same normalized activation; as one
// llama.projections, their lowering computes a block of columns of each in
// one loop iteration (one fork and join of the threads for the three).
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"
#include "passes/Transforms/Fusion.h"

#include "mlir/IR/Dominance.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFUSEPROJECTIONSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

/// The linear layers without a residual that read `input` in `block`, in
/// program order.
SmallVector<LinearOp> projectionsOf(Value input, Block *block) {
  SmallVector<LinearOp> linears;
  for (Operation *user : input.getUsers())
    if (auto linear = dyn_cast<LinearOp>(user);
        linear && !linear.getResidual() && linear.getInput() == input &&
        linear->getBlock() == block && !llvm::is_contained(linears, linear))
      linears.push_back(linear);
  llvm::sort(linears,
             [](LinearOp a, LinearOp b) { return a->isBeforeInBlock(b); });
  return linears;
}

/// The merged op's location: the linears' names joined (q_proj_k_proj_v_proj,
/// llamac's SSA name for it) when each has one, else all their locations.
Location mergedLocation(MutableArrayRef<LinearOp> linears) {
  SmallVector<Location> locations;
  SmallVector<StringRef> names;
  for (LinearOp linear : linears) {
    locations.push_back(linear.getLoc());
    if (auto name = dyn_cast<NameLoc>(linear.getLoc()))
      names.push_back(name.getName().getValue());
  }
  MLIRContext *ctx = linears.front().getContext();
  if (names.size() != linears.size())
    return FusedLoc::get(ctx, locations);
  return NameLoc::get(StringAttr::get(ctx, llvm::join(names, "_")));
}

/// Rooted at the first of two or more linear layers of one input: all of
/// them become one llama.projections in its place. A weight defined after
/// that place (not seen in a Llama layer, whose weights are arguments)
/// leaves its linear out.
struct MergeProjections : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp first,
                                PatternRewriter &rewriter) const override {
    SmallVector<LinearOp> linears =
        projectionsOf(first.getInput(), first->getBlock());
    if (linears.empty() || linears.front() != first)
      return failure();
    DominanceInfo dominance;
    llvm::erase_if(linears, [&](LinearOp linear) {
      return linear != first &&
             !dominance.properlyDominates(linear.getWeight(), first);
    });
    if (linears.size() < 2)
      return failure();
    SmallVector<Value> weights;
    SmallVector<Type> types;
    for (LinearOp linear : linears) {
      weights.push_back(linear.getWeight());
      types.push_back(linear.getType());
    }
    rewriter.setInsertionPoint(first);
    auto merged = ProjectionsOp::create(rewriter, mergedLocation(linears),
                                        types, first.getInput(), weights);
    for (auto [linear, result] : llvm::zip_equal(linears, merged.getResults()))
      rewriter.replaceOp(linear, result);
    return success();
  }
};

struct FuseProjectionsPass
    : mlir::llama::impl::LlamaFuseProjectionsPassBase<FuseProjectionsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<MergeProjections>(&getContext());
    if (failed(applyFusionPatterns(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
