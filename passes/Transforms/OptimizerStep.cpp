//===- OptimizerStep.cpp - the whole training step as one function --------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAOPTIMIZERSTEPPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

/// A gradient function returns the loss, any statistics, then one gradient
/// per weight.
bool isGradientFunction(func::FuncOp func) {
  for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
    if (func.getResultAttr(i, kGradAttr))
      return true;
  return false;
}

struct LlamaOptimizerStepPass
    : mlir::llama::impl::LlamaOptimizerStepPassBase<LlamaOptimizerStepPass> {
  using LlamaOptimizerStepPassBase::LlamaOptimizerStepPassBase;

  void runOnOperation() override {
    SmallVector<func::FuncOp> gradients;
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (isGradientFunction(func))
        gradients.push_back(func);
    for (func::FuncOp grad : gradients)
      buildStep(grad);
  }

  void buildStep(func::FuncOp grad) {
    OpBuilder b(grad);
    b.setInsertionPointAfter(grad);
    Location loc = grad.getLoc();
    auto named = [&](StringRef kind, StringRef value) {
      return b.getDictionaryAttr(b.getNamedAttr(kind, b.getStringAttr(value)));
    };

    // Arguments: the gradient function's inputs, step_params, its weights,
    // then one Adam first- and second-moment tensor per weight.
    SmallVector<Type> inputs;
    SmallVector<Attribute> argAttrs;
    SmallVector<unsigned> weightArgs;
    SmallVector<StringAttr> weightNames;
    for (unsigned i = 0, e = grad.getNumArguments(); i < e; ++i) {
      if (auto name = grad.getArgAttrOfType<StringAttr>(i, kWeightAttr)) {
        weightArgs.push_back(i);
        weightNames.push_back(name);
      } else {
        inputs.push_back(grad.getArgumentTypes()[i]);
        argAttrs.push_back(grad.getArgAttrDict(i));
      }
    }
    unsigned numInputs = inputs.size();
    auto stepParamsType = RankedTensorType::get({2}, b.getF32Type());
    inputs.push_back(stepParamsType);
    argAttrs.push_back(named(kInputAttr, input::kStepParams));
    for (StringRef kind : {kWeightAttr, kAdamMAttr, kAdamVAttr})
      for (auto [arg, name] : llvm::zip(weightArgs, weightNames)) {
        inputs.push_back(grad.getArgumentTypes()[arg]);
        argAttrs.push_back(named(kind, name));
      }

    // Results: the loss, the gradient norm, the loss's statistics, then the
    // updated weights and moments.
    unsigned numStatistics = 0;
    while (!grad.getResultAttr(1 + numStatistics, kGradAttr))
      ++numStatistics;
    Type scalar = RankedTensorType::get({}, b.getF32Type());
    SmallVector<Type> results = {scalar, scalar};
    SmallVector<Attribute> resultAttrs = {
        named(kOutputAttr, output::kLoss),
        named(kOutputAttr, output::kGradNorm)};
    for (unsigned i = 1; i <= numStatistics; ++i) {
      results.push_back(grad.getResultTypes()[i]);
      if (DictionaryAttr attrs = grad.getResultAttrDict(i))
        resultAttrs.push_back(attrs);
      else
        resultAttrs.push_back(b.getDictionaryAttr({}));
    }
    for (StringRef kind : {updated::kWeight, updated::kAdamM, updated::kAdamV})
      for (unsigned arg : weightArgs) {
        results.push_back(grad.getArgumentTypes()[arg]);
        resultAttrs.push_back(named(kUpdatedAttr, kind));
      }

    auto step = func::FuncOp::create(b, loc, "train_step",
                                     b.getFunctionType(inputs, results));
    step.setAllArgAttrs(argAttrs);
    step.setAllResultAttrs(resultAttrs);
    Block *body = step.addEntryBlock();
    b.setInsertionPointToStart(body);
    unsigned numWeights = weightArgs.size();
    auto arg = [&](unsigned i) { return body->getArgument(i); };
    Value stepParams = arg(numInputs);
    auto weight = [&](unsigned k) { return arg(numInputs + 1 + k); };
    auto moment1 = [&](unsigned k) {
      return arg(numInputs + 1 + numWeights + k);
    };
    auto moment2 = [&](unsigned k) {
      return arg(numInputs + 1 + 2 * numWeights + k);
    };

    // The gradient function takes its inputs and weights in its own order.
    SmallVector<Value> callArgs;
    for (unsigned i = 0, input = 0, w = 0, e = grad.getNumArguments(); i < e;
         ++i)
      callArgs.push_back(llvm::is_contained(weightArgs, i) ? weight(w++)
                                                           : arg(input++));
    auto call = func::CallOp::create(b, loc, grad, callArgs);
    Value loss = call.getResult(0);
    ValueRange statistics = call.getResults().slice(1, numStatistics);
    ValueRange gradients = call.getResults().drop_front(1 + numStatistics);
    Value norm = GlobalNormOp::create(b, loc, scalar, gradients);

    SmallVector<Value> newWeights, newM, newV;
    for (unsigned k = 0; k < numWeights; ++k) {
      auto type = cast<RankedTensorType>(weight(k).getType());
      double decay = type.getRank() >= 2 ? weightDecay.getValue() : 0.0;
      auto update = AdamWOp::create(
          b, loc, type, type, type, weight(k), gradients[k], moment1(k),
          moment2(k), stepParams, norm, b.getF64FloatAttr(beta1),
          b.getF64FloatAttr(beta2), b.getF64FloatAttr(eps),
          b.getF64FloatAttr(decay), b.getF64FloatAttr(maxGradNorm));
      newWeights.push_back(update.getNewParam());
      newM.push_back(update.getNewM());
      newV.push_back(update.getNewV());
    }
    SmallVector<Value> returned = {loss, norm};
    returned.append(statistics.begin(), statistics.end());
    returned.append(newWeights);
    returned.append(newM);
    returned.append(newV);
    func::ReturnOp::create(b, loc, returned);
  }
};

} // namespace
