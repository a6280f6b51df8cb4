//===- FuseIntoKernels.cpp - elementwise producers into their consumers --===//
//
// On a GPU every linalg op becomes a kernel launch, and a launch costs
// about as much as streaming a few MB: an elementwise op between two others
// (RMSNorm's scaling, RoPE's cos/sin table) is better recomputed inside its
// consumers than written out and read back. Upstream's elementwise fusion
// does the rewrite; this pass decides where it pays:
// - into an elementwise consumer, always: the recomputation is at most the
//   consumer's broadcast of it (RoPE's table over the heads);
// - into a contraction only in the GEMV regime (static rows up to
//   kMaxGemvRows: decode's projections, the LM head), where the warp kernel
//   applies the producer to each element it reads along k. A tensor-core
//   GEMM loads its operands as stored, so prefill's projections keep their
//   producers. And only a producer whose per-element work is plain
//   arithmetic: a math function of a value that varies with every one of
//   its loops (SwiGLU's exp, softmax's) would be recomputed for every
//   output column; one of a row's value (RMSNorm's rsqrt of the row's sum)
//   is computed once per row. Producers that read by index (RoPE's rotation)
//   stay: the warp kernel takes plain reads only.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Target/NVIDIA/KernelOperands.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SmallBitVector.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAFUSEINTOKERNELSPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// A reduction over few static rows: the warp kernel's GEMV.
bool isGemv(linalg::GenericOp op) {
  auto out = dyn_cast<RankedTensorType>(op.getDpsInits()[0].getType());
  return out && out.getRank() >= 1 && !out.isDynamicDim(0) &&
         out.getDimSize(0) <= mlir::llama::kMaxGemvRows;
}

/// Whether some math function in `producer`'s body takes a value that
/// varies with all of its loops.
bool hasPerElementMath(linalg::GenericOp producer) {
  Block &body = producer.getRegion().front();
  unsigned loops = producer.getNumLoops();
  DenseMap<Value, llvm::SmallBitVector> varies; // the loops a value varies with
  for (OpOperand &operand : producer->getOpOperands()) {
    llvm::SmallBitVector dims(loops);
    for (AffineExpr e : producer.getMatchingIndexingMap(&operand).getResults())
      e.walk([&](AffineExpr inner) {
        if (auto dim = dyn_cast<AffineDimExpr>(inner))
          dims.set(dim.getPosition());
      });
    varies[producer.getMatchingBlockArgument(&operand)] = dims;
  }
  for (Operation &op : body.without_terminator()) {
    llvm::SmallBitVector dims(loops);
    for (Value operand : op.getOperands())
      if (auto it = varies.find(operand); it != varies.end())
        dims |= it->second;
    if (isa<math::MathDialect>(op.getDialect()) && dims.all())
      return true;
    for (Value result : op.getResults())
      varies[result] = dims;
  }
  return false;
}

bool readsByIndex(linalg::GenericOp producer) {
  return producer.hasIndexSemantics() ||
         !producer.getRegion().getOps<tensor::ExtractOp>().empty();
}

bool worthFusing(OpOperand *operand) {
  auto consumer = cast<linalg::GenericOp>(operand->getOwner());
  auto producer = operand->get().getDefiningOp<linalg::GenericOp>();
  if (consumer.getNumReductionLoops() == 0)
    return true;
  return isGemv(consumer) && !readsByIndex(producer) &&
         !hasPerElementMath(producer);
}

/// Upstream's elementwise fusion with the choice above. A producer with
/// other users is copied for this consumer first: fused, its results are
/// recomputed here instead of also being written out, and it goes once its
/// last user took it in.
struct FuseProducer : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    for (OpOperand &operand : consumer->getOpOperands()) {
      if (!linalg::areElementwiseOpsFusable(&operand) || !worthFusing(&operand))
        continue;
      auto result = cast<OpResult>(operand.get());
      Operation *producer = result.getOwner();
      if (!producer->hasOneUse()) {
        rewriter.setInsertionPoint(producer);
        Operation *copy = rewriter.clone(*producer);
        rewriter.modifyOpInPlace(consumer, [&] {
          operand.set(copy->getResult(result.getResultNumber()));
        });
      }
      rewriter.setInsertionPoint(consumer); // where the fused op goes
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, &operand);
      if (failed(fused))
        return failure();
      rewriter.replaceOp(consumer, fused->fusedOp->getResults().take_back(
                                       consumer->getNumResults()));
      return success();
    }
    return failure();
  }
};

struct FuseIntoKernelsPass
    : mlir::llama::impl::LlamaFuseIntoKernelsPassBase<FuseIntoKernelsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseProducer>(&getContext());
    // Producers first: a chain fuses from its start, so a consumer is
    // judged with what it recomputes (RoPE's rotation with its table's
    // indices).
    GreedyRewriteConfig config;
    config.setUseTopDownTraversal();
    if (failed(
            applyPatternsGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
