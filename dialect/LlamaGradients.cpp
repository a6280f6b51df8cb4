//===- LlamaGradients.cpp - each op's vector-Jacobian product -------------===//
//
// DifferentiableOpInterface for the forward ops: the cotangents of the
// operands as gradient ops (or, for add, the cotangent itself). The gradient
// ops' lowerings hold the math.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaOps.h"

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
  return {grad.getDinput(), grad.getDweight()};
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
