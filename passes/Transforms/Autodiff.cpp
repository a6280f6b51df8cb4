//===- Autodiff.cpp - reverse-mode differentiation of loss functions ------===//

#include "dialect/LlamaOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/ScopeExit.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAAUTODIFFPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;
using namespace mlir::llama;

namespace {

/// A loss function returns the loss first; any further results are
/// statistics of the same computation (PPO's clip fractions), returned
/// alongside but not differentiated.
bool isLossFunction(func::FuncOp func) {
  if (func.getNumResults() < 1)
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

/// A differentiated callee, split in two: `@<callee>_fwd(args...) ->
/// (results..., saved...)` runs the forward pass and also returns the
/// activations that the backward pass reads; `@<callee>_bwd(args..., d
/// results..., saved...) -> d args...` runs the backward pass only.
struct SplitGradient {
  func::FuncOp forward, backward;
};

/// Reverse mode over the body of one function at a time. A call is
/// differentiated through the callee's SplitGradient, made once per callee:
/// the call becomes a call of `_fwd`, and the backward pass calls `_bwd` with
/// the activations `_fwd` saved — a model's decoder layers share one forward
/// and one backward body, and no layer's forward pass runs twice (stored,
/// not recomputed: the recomputation was a quarter of a training step's
/// multiply-adds).
class ReverseMode {
public:
  explicit ReverseMode(ModuleOp module) : symbols(module) {}

  /// Walks `forward` (ops of one block) backwards from the seeds in
  /// `cotangents`, inserting the backward ops at `b`'s insertion point; on
  /// return `cotangents` holds the cotangent of every value the seeds depend
  /// on.
  LogicalResult run(OpBuilder &b, ArrayRef<Operation *> forward,
                    DenseMap<Value, Value> &cotangents);

  /// The `_fwd` and `_bwd` functions of `callee` (d args: one per
  /// differentiable argument), placed after the callee.
  FailureOr<SplitGradient> splitGradient(func::FuncOp callee);

  /// Erases the calls that `_fwd` calls replaced (once `run` is done with
  /// them).
  void eraseReplacedCalls();

private:
  FailureOr<SmallVector<Value>> callGradient(OpBuilder &b, func::CallOp call,
                                             ArrayRef<Value> resultGradients);

  SymbolTable symbols;
  DenseMap<func::FuncOp, SplitGradient> gradients; // callee -> its split
  SmallVector<func::CallOp> replacedCalls;
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
  FailureOr<SplitGradient> split = splitGradient(callee);
  if (failed(split))
    return failure();
  // The forward call also returns the saved activations.
  OpBuilder before(call);
  auto forward = func::CallOp::create(before, call.getLoc(), split->forward,
                                      call.getOperands());
  unsigned numResults = call.getNumResults();
  call.replaceAllUsesWith(forward.getResults().take_front(numResults));
  replacedCalls.push_back(call);

  SmallVector<Value> operands(call.getOperands());
  for (auto [result, gradient] : llvm::zip(call.getResults(), resultGradients))
    if (isDifferentiable(result.getType()))
      operands.push_back(gradient ? gradient
                                  : zeros(b, call.getLoc(), result.getType()));
  llvm::append_range(operands, forward.getResults().drop_front(numResults));
  auto backward =
      func::CallOp::create(b, call.getLoc(), split->backward, operands);
  SmallVector<Value> operandGradients;
  unsigned next = 0;
  for (Value operand : call.getOperands())
    operandGradients.push_back(isDifferentiable(operand.getType())
                                   ? backward.getResult(next++)
                                   : Value());
  return operandGradients;
}

void ReverseMode::eraseReplacedCalls() {
  for (func::CallOp call : replacedCalls)
    call.erase();
  replacedCalls.clear();
}

/// Clears a function's argument and result attributes (a derived function's
/// signature is not the original's).
void clearSignatureAttrs(OpBuilder &b, func::FuncOp func) {
  func.setAllArgAttrs(
      SmallVector<Attribute>(func.getNumArguments(), b.getDictionaryAttr({})));
  func.setAllResultAttrs(
      SmallVector<Attribute>(func.getNumResults(), b.getDictionaryAttr({})));
}

FailureOr<SplitGradient> ReverseMode::splitGradient(func::FuncOp callee) {
  if (auto known = gradients.find(callee); known != gradients.end())
    return known->second;
  for (Type type : callee.getResultTypes())
    if (auto shaped = dyn_cast<ShapedType>(type);
        shaped && isDifferentiable(type) && !shaped.hasStaticShape())
      return callee.emitError()
             << "llama-autodiff: results of a differentiated call need static "
                "shapes";
  if (!callee.getBody().getOps<func::CallOp>().empty())
    return callee.emitError()
           << "llama-autodiff: cannot differentiate a call to a function that "
              "makes calls";

  // The backward function starts as a copy of the callee, its backward pass
  // added after the forward ops; the forward ops then move out to _fwd.
  DerivedFunction bwd(callee, "_bwd");
  bwd.func.setPrivate();
  symbols.insert(bwd.func);
  Block &body = *bwd.body;
  OpBuilder b(bwd.ret);

  // One more argument per differentiable result: its cotangent.
  DenseMap<Value, Value> cotangents;
  for (Value result : bwd.ret.getOperands())
    if (isDifferentiable(result.getType())) {
      Value seed =
          body.addArgument(result.getType(), gradientLoc(result.getLoc()));
      Value &slot = cotangents[result];
      // A value returned twice gets the sum of both cotangents.
      slot = slot ? AddOp::create(b, result.getLoc(), slot, seed).getResult()
                  : seed;
    }
  if (failed(run(b, bwd.forward, cotangents)))
    return failure();

  SmallVector<Value> argGradients;
  for (BlockArgument arg :
       body.getArguments().take_front(callee.getNumArguments()))
    if (isDifferentiable(arg.getType())) {
      Value gradient = cotangents.lookup(arg);
      argGradients.push_back(
          gradient ? gradient : zeros(b, bwd.ret.getLoc(), arg.getType()));
    }
  bwd.finish(b, argGradients);

  // Saved: the forward values that the backward ops read, each passed to
  // _bwd as an argument in its place.
  DenseSet<Operation *> forwardOps(bwd.forward.begin(), bwd.forward.end());
  auto inBackward = [&](OpOperand &use) {
    return !forwardOps.contains(body.findAncestorOpInBlock(*use.getOwner()));
  };
  SmallVector<std::pair<unsigned, unsigned>> saved; // (forward op, result)
  for (auto [index, op] : llvm::enumerate(bwd.forward))
    for (OpResult result : op->getResults()) {
      if (llvm::none_of(result.getUses(), inBackward))
        continue;
      saved.push_back({unsigned(index), result.getResultNumber()});
      result.replaceUsesWithIf(
          body.addArgument(result.getType(), result.getLoc()), inBackward);
    }
  for (Operation *op : llvm::reverse(bwd.forward))
    op->erase();
  bwd.func.setFunctionType(b.getFunctionType(
      body.getArgumentTypes(), bwd.func.getFunctionType().getResults()));
  clearSignatureAttrs(b, bwd.func);

  // _fwd: the callee's body returning its results, then the saved values.
  DerivedFunction fwd(callee, "_fwd");
  fwd.func.setPrivate();
  symbols.insert(fwd.func);
  OpBuilder fb(fwd.ret);
  SmallVector<Value> results(fwd.ret.getOperands());
  for (auto [index, result] : saved)
    results.push_back(fwd.forward[index]->getResult(result));
  fwd.finish(fb, results);
  clearSignatureAttrs(fb, fwd.func);

  SplitGradient split{fwd.func, bwd.func};
  gradients[callee] = split;
  return split;
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
  reverse.eraseReplacedCalls();

  // Return the loss and the statistics, then d(loss)/d(weight) for each
  // weight, in order.
  SmallVector<Value> results(grad.ret.getOperands());
  SmallVector<Attribute> resultAttrs;
  for (unsigned i = 0, e = results.size(); i < e; ++i)
    if (DictionaryAttr attrs = lossFunc.getResultAttrDict(i))
      resultAttrs.push_back(attrs);
    else
      resultAttrs.push_back(b.getDictionaryAttr({}));
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
