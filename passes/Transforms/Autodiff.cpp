//===- Autodiff.cpp - reverse-mode differentiation of loss functions ------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/ScopeExit.h"

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
  auto output = func.getResultAttrOfType<StringAttr>(0, kOutputAttr);
  return output && output.getValue() == output::kLoss;
}

/// Values with a cotangent: float tensors (not token ids, positions, sizes).
bool isDifferentiable(Type type) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  return tensor && isa<FloatType>(tensor.getElementType());
}

Value zeros(OpBuilder &b, Location loc, Type type) {
  return arith::ConstantOp::create(b, loc,
                                   cast<TypedAttr>(b.getZeroAttr(type)));
}

/// A function derived from another: a copy named `<name><suffix>` right
/// after it, with the copy's forward ops listed, to which reverse mode adds a
/// backward pass before `finish` replaces its return.
struct DerivedFunction {
  func::FuncOp func;
  Block *body;
  func::ReturnOp ret;
  SmallVector<Operation *> forward;

  DerivedFunction(func::FuncOp original, StringRef suffix) {
    OpBuilder b(original);
    b.setInsertionPointAfter(original);
    func = cast<func::FuncOp>(b.clone(*original));
    func.setName((original.getName() + suffix).str());
    body = &func.getBody().front();
    ret = cast<func::ReturnOp>(body->getTerminator());
    for (Operation &op : body->without_terminator())
      forward.push_back(&op);
  }

  /// Returns `results` instead of the original results.
  void finish(OpBuilder &b, ValueRange results) {
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    func.setFunctionType(
        b.getFunctionType(body->getArgumentTypes(), results.getTypes()));
  }
};

/// Reverse mode over the body of one function at a time. A call is
/// differentiated through the callee's vector-Jacobian function
/// `@<callee>_vjp`, made once per callee: it recomputes the callee's forward
/// pass and runs its backward pass, so a model's decoder layers share one
/// backward body, and only the activations between layers stay alive from
/// the forward to the backward pass (activation checkpointing per call).
class ReverseMode {
public:
  explicit ReverseMode(ModuleOp module) : symbols(module) {}

  /// Walks `forward` (ops of one block) backwards from the seeds in
  /// `cotangents`, inserting the backward ops at `b`'s insertion point; on
  /// return `cotangents` holds the cotangent of every value the seeds depend
  /// on.
  LogicalResult run(OpBuilder &b, ArrayRef<Operation *> forward,
                    DenseMap<Value, Value> &cotangents);

  /// @<callee>_vjp(callee args..., d results...) -> d args... (one per
  /// differentiable argument), placed after the callee.
  FailureOr<func::FuncOp> vjpFunction(func::FuncOp callee);

private:
  FailureOr<SmallVector<Value>> callGradient(OpBuilder &b, func::CallOp call,
                                             ArrayRef<Value> resultGradients);

  SymbolTable symbols;
  DenseMap<func::FuncOp, func::FuncOp> vjps; // callee -> its vjp function
};

/// `name` -> `name_grad` for a NameLoc: the location of the cotangent of (or
/// the backward op of) a named value.
Location gradientLoc(Location loc) {
  auto name = dyn_cast<NameLoc>(loc);
  if (!name || name.getName().strref().ends_with("_grad"))
    return loc;
  return NameLoc::get(
      StringAttr::get(loc.getContext(), name.getName().strref() + "_grad"),
      name.getChildLoc());
}

/// Names each backward op after the forward op it differentiates
/// (`%ffn_out` -> `%ffn_out_grad`), so --emit=llama reads both ways.
struct GradientNamer : OpBuilder::Listener {
  void notifyOperationInserted(Operation *op, OpBuilder::InsertPoint) override {
    op->setLoc(gradientLoc(op->getLoc()));
  }
};

LogicalResult ReverseMode::run(OpBuilder &b, ArrayRef<Operation *> forward,
                               DenseMap<Value, Value> &cotangents) {
  GradientNamer namer;
  OpBuilder::Listener *previous = b.getListener();
  b.setListener(&namer);
  llvm::scope_exit restore([&] { b.setListener(previous); });
  auto accumulate = [&](Value value, Value cotangent) {
    if (!cotangent)
      return;
    Value &slot = cotangents[value];
    slot =
        slot ? AddOp::create(b, cotangent.getLoc(), slot, cotangent).getResult()
             : cotangent;
  };
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
    if (auto differentiable = dyn_cast<DifferentiableOpInterface>(op)) {
      operandCotangents = differentiable.buildGradient(b, resultCotangents);
    } else if (auto call = dyn_cast<func::CallOp>(op)) {
      FailureOr<SmallVector<Value>> fromCall =
          callGradient(b, call, resultCotangents);
      if (failed(fromCall))
        return failure();
      operandCotangents = std::move(*fromCall);
    } else {
      return op->emitError() << "llama-autodiff: no gradient rule for '"
                             << op->getName() << "'";
    }
    for (auto [operand, cotangent] :
         llvm::zip(op->getOperands(), operandCotangents))
      accumulate(operand, cotangent);
  }
  return success();
}

FailureOr<SmallVector<Value>>
ReverseMode::callGradient(OpBuilder &b, func::CallOp call,
                          ArrayRef<Value> resultGradients) {
  auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
  if (!callee || callee.isExternal())
    return call.emitError() << "llama-autodiff: cannot differentiate a call "
                               "to a function without a body";
  FailureOr<func::FuncOp> vjp = vjpFunction(callee);
  if (failed(vjp))
    return failure();
  SmallVector<Value> operands(call.getOperands());
  for (auto [result, gradient] : llvm::zip(call.getResults(), resultGradients))
    if (isDifferentiable(result.getType()))
      operands.push_back(gradient ? gradient
                                  : zeros(b, call.getLoc(), result.getType()));
  auto vjpCall = func::CallOp::create(b, call.getLoc(), *vjp, operands);
  SmallVector<Value> operandGradients;
  unsigned next = 0;
  for (Value operand : call.getOperands())
    operandGradients.push_back(isDifferentiable(operand.getType())
                                   ? vjpCall.getResult(next++)
                                   : Value());
  return operandGradients;
}

FailureOr<func::FuncOp> ReverseMode::vjpFunction(func::FuncOp callee) {
  if (func::FuncOp known = vjps.lookup(callee))
    return known;
  for (Type type : callee.getResultTypes())
    if (auto shaped = dyn_cast<ShapedType>(type);
        shaped && isDifferentiable(type) && !shaped.hasStaticShape())
      return callee.emitError()
             << "llama-autodiff: results of a differentiated call need static "
                "shapes";

  DerivedFunction vjp(callee, "_vjp");
  vjp.func.setPrivate();
  symbols.insert(vjp.func);
  Block &body = *vjp.body;
  OpBuilder b(vjp.ret);

  // One more argument per differentiable result: its cotangent.
  DenseMap<Value, Value> cotangents;
  for (Value result : vjp.ret.getOperands())
    if (isDifferentiable(result.getType())) {
      Value seed =
          body.addArgument(result.getType(), gradientLoc(result.getLoc()));
      Value &slot = cotangents[result];
      // A value returned twice gets the sum of both cotangents.
      slot = slot ? AddOp::create(b, result.getLoc(), slot, seed).getResult()
                  : seed;
    }
  if (failed(run(b, vjp.forward, cotangents)))
    return failure();

  SmallVector<Value> gradients;
  for (BlockArgument arg :
       body.getArguments().take_front(callee.getNumArguments()))
    if (isDifferentiable(arg.getType())) {
      Value gradient = cotangents.lookup(arg);
      gradients.push_back(gradient ? gradient
                                   : zeros(b, vjp.ret.getLoc(), arg.getType()));
    }
  vjp.finish(b, gradients);
  vjp.func.setAllArgAttrs(
      SmallVector<Attribute>(body.getNumArguments(), b.getDictionaryAttr({})));
  vjp.func.setAllResultAttrs(
      SmallVector<Attribute>(gradients.size(), b.getDictionaryAttr({})));
  vjps[callee] = vjp.func;
  return vjp.func;
}

/// Builds @<loss>_grad from a loss function.
LogicalResult differentiate(ReverseMode &reverse, func::FuncOp lossFunc) {
  DerivedFunction grad(lossFunc, "_grad");
  OpBuilder b(grad.ret);
  Value loss = grad.ret.getOperand(0);
  Location loc = grad.func.getLoc();
  DenseMap<Value, Value> cotangents;
  cotangents[loss] = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(cast<ShapedType>(loss.getType()), 1.0f));
  if (failed(reverse.run(b, grad.forward, cotangents)))
    return failure();

  // Return the loss, then d(loss)/d(weight) for each weight, in order.
  SmallVector<Value> results = {loss};
  SmallVector<Attribute> resultAttrs = {b.getDictionaryAttr(
      b.getNamedAttr(kOutputAttr, b.getStringAttr(output::kLoss)))};
  for (BlockArgument arg : grad.body->getArguments()) {
    auto name =
        grad.func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kWeightAttr);
    if (!name)
      continue;
    Value cotangent = cotangents.lookup(arg);
    if (!cotangent) // a weight the loss does not depend on
      cotangent = zeros(b, loc, arg.getType());
    results.push_back(cotangent);
    resultAttrs.push_back(b.getDictionaryAttr(b.getNamedAttr(kGradAttr, name)));
  }
  grad.finish(b, results);
  grad.func.setAllResultAttrs(resultAttrs);
  return success();
}

struct LlamaAutodiffPass
    : mlir::llama::impl::LlamaAutodiffPassBase<LlamaAutodiffPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> losses;
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (isLossFunction(func))
        losses.push_back(func);
    ReverseMode reverse(getOperation());
    for (func::FuncOp func : losses)
      if (failed(differentiate(reverse, func)))
        return signalPassFailure();
  }
};

} // namespace
