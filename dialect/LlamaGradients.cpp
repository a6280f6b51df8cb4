//===- LlamaGradients.cpp - each op's vector-Jacobian product -------------===//
//
// DifferentiableOpInterface for the forward ops: the cotangents of the
// operands as gradient ops (or, for add, the cotangent itself). The gradient
// ops' lowerings hold the math. The tensor dialect's reshapes get the
// interface as external models, so the autodiff pass has one rule for all.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::llama;

#include "dialect/LlamaInterfaces.cpp.inc"

SmallVector<Value> EmbeddingOp::buildGradient(OpBuilder &b,
                                              ValueRange resultGradients) {
  Value dtable = EmbeddingGradOp::create(b, getLoc(), getTable().getType(),
                                         getTokens(), resultGradients[0]);
  return {dtable, Value()};
}

SmallVector<Value> RMSNormOp::buildGradient(OpBuilder &b,
                                            ValueRange resultGradients) {
  auto grad = RMSNormGradOp::create(
      b, getLoc(), getInput().getType(), getWeight().getType(), getInput(),
      getWeight(), resultGradients[0], getEpsAttr());
  return {grad.getDinput(), grad.getDweight()};
}

SmallVector<Value> LinearOp::buildGradient(OpBuilder &b,
                                           ValueRange resultGradients) {
  auto grad = LinearGradOp::create(b, getLoc(), getInput().getType(),
                                   getWeight().getType(), getInput(),
                                   getWeight(), resultGradients[0]);
  if (!getResidual())
    return {grad.getDinput(), grad.getDweight()};
  // d(residual + x . W^T) / d residual is the identity.
  return {grad.getDinput(), grad.getDweight(), resultGradients[0]};
}

SmallVector<Value> RoPEOp::buildGradient(OpBuilder &b,
                                         ValueRange resultGradients) {
  Value dinput = RoPEGradOp::create(b, getLoc(), getType(), resultGradients[0],
                                    getPositions(), getThetaAttr());
  return {dinput, Value()};
}

SmallVector<Value> AttentionOp::buildGradient(OpBuilder &b,
                                              ValueRange resultGradients) {
  auto grad = AttentionGradOp::create(b, getLoc(), getQuery().getType(),
                                      getKey().getType(), getValue().getType(),
                                      getQuery(), getKey(), getValue(),
                                      resultGradients[0], getScaleAttr());
  return {grad.getDquery(), grad.getDkey(), grad.getDvalue()};
}

SmallVector<Value> SwiGLUOp::buildGradient(OpBuilder &b,
                                           ValueRange resultGradients) {
  auto grad = SwiGLUGradOp::create(b, getLoc(), getType(), getType(), getGate(),
                                   getUp(), resultGradients[0]);
  return {grad.getDgate(), grad.getDup()};
}

SmallVector<Value> AddOp::buildGradient(OpBuilder &,
                                        ValueRange resultGradients) {
  return {resultGradients[0], resultGradients[0]};
}

SmallVector<Value> CrossEntropyOp::buildGradient(OpBuilder &b,
                                                 ValueRange resultGradients) {
  Value dlogits = CrossEntropyGradOp::create(b, getLoc(), getLogits().getType(),
                                             getLogits(), getTargets(),
                                             getMask(), resultGradients[0]);
  return {dlogits, Value(), Value()};
}

SmallVector<Value> GatherRowsOp::buildGradient(OpBuilder &b,
                                               ValueRange resultGradients) {
  Value dinput = GatherRowsGradOp::create(b, getLoc(), getInput().getType(),
                                          resultGradients[0], getIndex());
  return {dinput, Value()};
}

SmallVector<Value> RankingLossOp::buildGradient(OpBuilder &b,
                                                ValueRange resultGradients) {
  Value drewards = RankingLossGradOp::create(
      b, getLoc(), getRewards().getType(), getRewards(), getMargins(),
      resultGradients[0], getCenterAttr());
  return {drewards, Value()};
}

SmallVector<Value> TokenLogprobsOp::buildGradient(OpBuilder &b,
                                                  ValueRange resultGradients) {
  Value dlogits = TokenLogprobsGradOp::create(
      b, getLoc(), getLogits().getType(), getLogits(), getTokens(),
      getTemperature(), resultGradients[0]);
  return {dlogits, Value(), Value()};
}

// Only the losses carry a gradient; clip fractions and approximate KL are
// statistics (their cotangents, if any, are ignored).
SmallVector<Value> PPOPolicyLossOp::buildGradient(OpBuilder &b,
                                                  ValueRange resultGradients) {
  if (!resultGradients[0])
    return {Value(), Value(), Value(), Value(), Value()};
  Value dlogprobs = PPOPolicyLossGradOp::create(
      b, getLoc(), getLogprobs().getType(), getLogprobs(), getOldLogprobs(),
      getAdvantages(), getMask(), getClip(), resultGradients[0]);
  return {dlogprobs, Value(), Value(), Value(), Value()};
}

SmallVector<Value> PPOValueLossOp::buildGradient(OpBuilder &b,
                                                 ValueRange resultGradients) {
  if (!resultGradients[0])
    return {Value(), Value(), Value(), Value(), Value()};
  Value dvalues = PPOValueLossGradOp::create(
      b, getLoc(), getValues().getType(), getValues(), getOldValues(),
      getReturns(), getMask(), getClip(), resultGradients[0]);
  return {dvalues, Value(), Value(), Value(), Value()};
}

namespace {

/// A reshape's vector-Jacobian product: the inverse reshape of the result's
/// cotangent (expand_shape <-> collapse_shape with the same reassociation).
template <typename Reshape, typename Inverse>
struct ReshapeGradientModel
    : DifferentiableOpInterface::ExternalModel<
          ReshapeGradientModel<Reshape, Inverse>, Reshape> {
  SmallVector<Value> buildGradient(Operation *op, OpBuilder &b,
                                   ValueRange resultGradients) const {
    auto reshape = cast<Reshape>(op);
    Value source =
        Inverse::create(b, op->getLoc(), reshape.getSrcType(),
                        resultGradients[0], reshape.getReassociationIndices());
    return {source};
  }
};

} // namespace

void mlir::llama::registerDifferentiableExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *context, tensor::TensorDialect *) {
    tensor::ExpandShapeOp::attachInterface<
        ReshapeGradientModel<tensor::ExpandShapeOp, tensor::CollapseShapeOp>>(
        *context);
    tensor::CollapseShapeOp::attachInterface<
        ReshapeGradientModel<tensor::CollapseShapeOp, tensor::ExpandShapeOp>>(
        *context);
  });
}
