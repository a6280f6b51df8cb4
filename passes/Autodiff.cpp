//===- Autodiff.cpp - reverse-mode differentiation of loss functions ------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAAUTODIFFPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

bool isLossFunction(func::FuncOp func) {
  if (func.getNumResults() != 1)
    return false;
  auto output = func.getResultAttrOfType<StringAttr>(0, "llama.output");
  return output && output.getValue() == "loss";
}

/// The cotangents of a reshape's source: the inverse reshape of dy.
Value reshapeGradient(OpBuilder &b, Operation *op, Value dy) {
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
    return tensor::CollapseShapeOp::create(b, op->getLoc(), expand.getSrcType(),
                                           dy,
                                           expand.getReassociationIndices());
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
    return tensor::ExpandShapeOp::create(b, op->getLoc(), collapse.getSrcType(),
                                         dy,
                                         collapse.getReassociationIndices());
  return {};
}

/// Builds @<loss>_grad from a loss function.
LogicalResult differentiate(func::FuncOp lossFunc) {
  OpBuilder b(lossFunc);
  b.setInsertionPointAfter(lossFunc);
  auto grad = cast<func::FuncOp>(b.clone(*lossFunc));
  grad.setName((lossFunc.getName() + "_grad").str());
  Block &body = grad.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  SmallVector<Operation *> forward;
  for (Operation &op : body.without_terminator())
    forward.push_back(&op);

  b.setInsertionPoint(ret);
  Location loc = grad.getLoc();
  DenseMap<Value, Value> cotangents;
  auto accumulate = [&](Value value, Value cotangent) {
    if (!cotangent)
      return;
    Value &slot = cotangents[value];
    slot =
        slot ? AddOp::create(b, loc, slot, cotangent).getResult() : cotangent;
  };
  accumulate(loss, arith::ConstantOp::create(
                       b, loc,
                       DenseElementsAttr::get(cast<ShapedType>(loss.getType()),
                                              1.0f)));

  for (Operation *op : llvm::reverse(forward)) {
    SmallVector<Value> resultCotangents;
    bool needed = false;
    for (Value result : op->getResults()) {
      resultCotangents.push_back(cotangents.lookup(result));
      needed |= bool(resultCotangents.back());
    }
    if (!needed)
      continue;
    SmallVector<Value> operandCotangents;
    if (auto differentiable = dyn_cast<DifferentiableOpInterface>(op))
      operandCotangents = differentiable.buildGradient(b, resultCotangents);
    else if (Value source = reshapeGradient(b, op, resultCotangents[0]))
      operandCotangents = {source};
    else
      return op->emitError() << "llama-autodiff: no gradient rule for '"
                             << op->getName() << "'";
    for (auto [operand, cotangent] :
         llvm::zip(op->getOperands(), operandCotangents))
      accumulate(operand, cotangent);
  }

  // Return the loss, then d(loss)/d(weight) for each weight, in order.
  SmallVector<Value> results = {loss};
  SmallVector<Attribute> resultAttrs = {b.getDictionaryAttr(
      b.getNamedAttr("llama.output", b.getStringAttr("loss")))};
  for (BlockArgument arg : body.getArguments()) {
    auto name =
        grad.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "llama.weight");
    if (!name)
      continue;
    Value cotangent = cotangents.lookup(arg);
    if (!cotangent) // a weight the loss does not depend on
      cotangent = arith::ConstantOp::create(
          b, loc, cast<TypedAttr>(b.getZeroAttr(arg.getType())));
    results.push_back(cotangent);
    resultAttrs.push_back(
        b.getDictionaryAttr(b.getNamedAttr("llama.grad", name)));
  }
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  grad.setFunctionType(b.getFunctionType(grad.getArgumentTypes(),
                                         ValueRange(results).getTypes()));
  grad.setAllResultAttrs(resultAttrs);
  return success();
}

struct LlamaAutodiffPass
    : mlir::llama::impl::LlamaAutodiffPassBase<LlamaAutodiffPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> losses;
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (isLossFunction(func))
        losses.push_back(func);
    for (func::FuncOp func : losses)
      if (failed(differentiate(func)))
        return signalPassFailure();
  }
};

} // namespace
