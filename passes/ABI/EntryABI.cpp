//===- EntryABI.cpp - C entry points and the artifact manifest ------------===//
//
// After bufferization an entry point takes one memref per weight and cache, a
// number that depends on the model. The runtime instead calls every model
// through one C signature per entry kind, with arrays of pointers
// (runtime/llama_abi.h); this pass writes the wrapper that turns those
// pointers into memref descriptors, and embeds the manifest the runtime
// checks before it binds anything.
//
//===----------------------------------------------------------------------===//

#include "passes/ABI/EntryPoints.h"
#include "passes/ABI/Manifest.h"
#include "passes/Passes.h"
#include "runtime/llama_abi.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringSwitch.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAENTRYABIPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

using ArgRole = llama_abi_role;

/// The role of each argument of a bufferized entry point, read off its
/// attributes: the frontend's and the training passes' on inputs, and on
/// out-parameters those of the results they replace.
FailureOr<SmallVector<ArgRole>> argumentRoles(func::FuncOp func) {
  SmallVector<ArgRole> roles;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    auto has = [&](StringRef attr) { return func.getArgAttr(i, attr); };
    if (auto input = func.getArgAttrOfType<StringAttr>(i, llama::kInputAttr)) {
      roles.push_back(
          llvm::StringSwitch<ArgRole>(input.getValue())
              .Case(llama::input::kTokens, LLAMA_ABI_ROLE_TOKENS)
              .Case(llama::input::kPosition, LLAMA_ABI_ROLE_POSITION)
              .Case(llama::input::kLogitRows, LLAMA_ABI_ROLE_LOGIT_ROWS)
              .Case(llama::input::kLossMask, LLAMA_ABI_ROLE_LOSS_MASK)
              .Case(llama::input::kStepParams, LLAMA_ABI_ROLE_STEP_PARAMS)
              .Case(llama::input::kSequenceEnds, LLAMA_ABI_ROLE_SEQUENCE_ENDS)
              .Case(llama::input::kMargins, LLAMA_ABI_ROLE_MARGINS)
              .Case(llama::input::kPPOParams, LLAMA_ABI_ROLE_PPO_PARAMS)
              .Case(llama::input::kOldLogprobs, LLAMA_ABI_ROLE_OLD_LOGPROBS)
              .Case(llama::input::kAdvantages, LLAMA_ABI_ROLE_ADVANTAGES)
              .Case(llama::input::kOldValues, LLAMA_ABI_ROLE_OLD_VALUES)
              .Case(llama::input::kReturns, LLAMA_ABI_ROLE_RETURNS));
    } else if (has(llama::kWeightAttr)) {
      roles.push_back(LLAMA_ABI_ROLE_WEIGHTS);
    } else if (has(llama::kKvCacheAttr)) {
      roles.push_back(LLAMA_ABI_ROLE_KV_CACHES);
    } else if (has(llama::kAdamMAttr)) {
      roles.push_back(LLAMA_ABI_ROLE_ADAM_M);
    } else if (has(llama::kAdamVAttr)) {
      roles.push_back(LLAMA_ABI_ROLE_ADAM_V);
    } else if (has(llama::kGradAttr)) {
      roles.push_back(LLAMA_ABI_ROLE_GRADIENTS);
    } else if (has(llama::kOutputAttr)) {
      roles.push_back(LLAMA_ABI_ROLE_OUTPUT);
    } else if (has(llama::kUpdatedAttr)) {
      return func.emitError()
             << "argument " << i << " is an updated tensor that bufferization "
             << "could not write in place";
    } else {
      return func.emitError() << "argument " << i << " has no llama role";
    }
  }
  if (func.getNumResults() != 0)
    return func.emitError() << "expected no results after bufferization, "
                               "found "
                            << func.getNumResults();
  return roles;
}

/// An entry's kind, from the inputs it takes: a loss (and its gradient and
/// step, told apart by what they add) by the data that defines it.
const char *entryKind(ArrayRef<ArgRole> roles) {
  auto has = [&](ArgRole role) { return llvm::is_contained(roles, role); };
  if (has(LLAMA_ABI_ROLE_POSITION))
    return LLAMA_ABI_KIND_INFERENCE;
  if (has(LLAMA_ABI_ROLE_SEQUENCE_ENDS) && !has(LLAMA_ABI_ROLE_MARGINS))
    return LLAMA_ABI_KIND_SCORE;
  // [loss, gradient, step] of each training objective.
  const char *const train[] = {LLAMA_ABI_KIND_TRAIN_LOSS,
                               LLAMA_ABI_KIND_TRAIN_GRAD,
                               LLAMA_ABI_KIND_TRAIN_STEP};
  const char *const reward[] = {LLAMA_ABI_KIND_REWARD_LOSS,
                                LLAMA_ABI_KIND_REWARD_GRAD,
                                LLAMA_ABI_KIND_REWARD_STEP};
  const char *const policy[] = {LLAMA_ABI_KIND_POLICY_LOSS,
                                LLAMA_ABI_KIND_POLICY_GRAD,
                                LLAMA_ABI_KIND_POLICY_STEP};
  const char *const value[] = {LLAMA_ABI_KIND_VALUE_LOSS,
                               LLAMA_ABI_KIND_VALUE_GRAD,
                               LLAMA_ABI_KIND_VALUE_STEP};
  const char *const *objective = has(LLAMA_ABI_ROLE_MARGINS)      ? reward
                                 : has(LLAMA_ABI_ROLE_ADVANTAGES) ? policy
                                 : has(LLAMA_ABI_ROLE_RETURNS)    ? value
                                 : has(LLAMA_ABI_ROLE_LOSS_MASK)  ? train
                                                                  : nullptr;
  if (!objective) // no loss: PPO's per-position outputs
    return has(LLAMA_ABI_ROLE_PPO_PARAMS) ? LLAMA_ABI_KIND_LOGPROBS
                                          : LLAMA_ABI_KIND_VALUES;
  if (has(LLAMA_ABI_ROLE_ADAM_M))
    return objective[2];
  return has(LLAMA_ABI_ROLE_GRADIENTS) ? objective[1] : objective[0];
}

class WrapperBuilder {
public:
  WrapperBuilder(OpBuilder &b, Location loc)
      : b(b), loc(loc), ptrType(LLVM::LLVMPointerType::get(b.getContext())),
        i64(b.getI64Type()) {}

  Value i64Constant(int64_t value) {
    return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(value));
  }

  /// pointers[index]
  Value loadPointer(Value pointers, int64_t index) {
    Value address = LLVM::GEPOp::create(b, loc, ptrType, ptrType, pointers,
                                        ArrayRef<LLVM::GEPArg>{index});
    return LLVM::LoadOp::create(b, loc, ptrType, address);
  }

  /// A contiguous row-major memref over `data`; a dynamic leading dimension
  /// takes `leadingSize` (only the leading one may be dynamic).
  Value memrefOver(Value data, MemRefType type, Value leadingSize) {
    int64_t rank = type.getRank();
    auto sizesType = LLVM::LLVMArrayType::get(i64, rank);
    SmallVector<Type> fields = {ptrType, ptrType, i64};
    if (rank > 0) // a rank-0 descriptor has no sizes and strides
      fields.append({sizesType, sizesType});
    auto descriptorType =
        LLVM::LLVMStructType::getLiteral(b.getContext(), fields);
    Value descriptor = LLVM::PoisonOp::create(b, loc, descriptorType);
    auto insert = [&](Value value, ArrayRef<int64_t> position) {
      descriptor =
          LLVM::InsertValueOp::create(b, loc, descriptor, value, position);
    };
    insert(data, {0});
    insert(data, {1});
    insert(i64Constant(0), {2});
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      int64_t size = type.getDimSize(d);
      insert(ShapedType::isDynamic(size) ? leadingSize : i64Constant(size),
             {3, d});
      insert(i64Constant(stride), {4, d});
      stride *= ShapedType::isDynamic(size) ? 1 : size;
    }
    return UnrealizedConversionCastOp::create(b, loc, type, descriptor)
        .getResult(0);
  }

  /// void llama_<name>(tokens[, n_tokens][, position][, logit_rows]
  ///                    [, loss_mask][, sequence_ends][, margins]
  ///                    [, ppo_params][, old_logprobs][, advantages]
  ///                    [, old_values][, returns][, step_params], weights[,
  ///                    kv_caches][, adam_m, adam_v][, gradients], outputs...)
  /// n_tokens comes with 1-D (inference) tokens, each other parameter with
  /// its role; arrays hold one pointer per tensor, in argument order.
  void build(ModuleOp module, func::FuncOp entry, ArrayRef<ArgRole> roles) {
    auto has = [&](ArgRole role) { return llvm::is_contained(roles, role); };
    auto tokensType = cast<MemRefType>(entry.getArgumentTypes()[0]);
    bool countTokens = tokensType.getRank() == 1;
    // Parameter order: the roles in enum order; outputs last, one each.
    SmallVector<Type> params;
    DenseMap<unsigned, unsigned> paramOf; // role -> wrapper parameter
    for (unsigned r = LLAMA_ABI_ROLE_TOKENS; r < LLAMA_ABI_ROLE_OUTPUT; ++r) {
      auto role = ArgRole(r);
      if (!has(role))
        continue;
      paramOf[role] = params.size();
      bool integer =
          role == LLAMA_ABI_ROLE_POSITION || role == LLAMA_ABI_ROLE_LOGIT_ROWS;
      params.push_back(integer ? i64 : ptrType);
      if (role == LLAMA_ABI_ROLE_TOKENS && countTokens)
        params.push_back(i64);
    }
    unsigned firstOutput = params.size();
    params.append(llvm::count(roles, LLAMA_ABI_ROLE_OUTPUT), ptrType);

    b.setInsertionPointToEnd(module.getBody());
    auto wrapper = func::FuncOp::create(b, loc, llama::entrySymbol(entry),
                                        b.getFunctionType(params, {}));
    Block *block = wrapper.addEntryBlock();
    b.setInsertionPointToStart(block);
    auto param = [&](ArgRole role) {
      return block->getArgument(paramOf.lookup(role));
    };
    Value numTokens =
        countTokens
            ? block->getArgument(paramOf.lookup(LLAMA_ABI_ROLE_TOKENS) + 1)
            : Value();
    // The logits have logit_rows rows when the entry takes that input.
    Value outputRows = has(LLAMA_ABI_ROLE_LOGIT_ROWS)
                           ? param(LLAMA_ABI_ROLE_LOGIT_ROWS)
                           : numTokens;

    SmallVector<Value> operands;
    DenseMap<unsigned, int64_t> nextIndex; // per array role
    unsigned nextOutput = firstOutput;
    for (auto [role, type] : llvm::zip(roles, entry.getArgumentTypes())) {
      auto memref = dyn_cast<MemRefType>(type);
      switch (role) {
      case LLAMA_ABI_ROLE_TOKENS:
        operands.push_back(memrefOver(param(role), memref, numTokens));
        break;
      case LLAMA_ABI_ROLE_POSITION:
      case LLAMA_ABI_ROLE_LOGIT_ROWS:
        operands.push_back(
            arith::IndexCastOp::create(b, loc, b.getIndexType(), param(role)));
        break;
      case LLAMA_ABI_ROLE_LOSS_MASK:
      case LLAMA_ABI_ROLE_SEQUENCE_ENDS:
      case LLAMA_ABI_ROLE_MARGINS:
      case LLAMA_ABI_ROLE_PPO_PARAMS:
      case LLAMA_ABI_ROLE_OLD_LOGPROBS:
      case LLAMA_ABI_ROLE_ADVANTAGES:
      case LLAMA_ABI_ROLE_OLD_VALUES:
      case LLAMA_ABI_ROLE_RETURNS:
      case LLAMA_ABI_ROLE_STEP_PARAMS:
        operands.push_back(memrefOver(param(role), memref, {}));
        break;
      case LLAMA_ABI_ROLE_WEIGHTS:
      case LLAMA_ABI_ROLE_KV_CACHES:
      case LLAMA_ABI_ROLE_ADAM_M:
      case LLAMA_ABI_ROLE_ADAM_V:
      case LLAMA_ABI_ROLE_GRADIENTS:
        operands.push_back(memrefOver(
            loadPointer(param(role), nextIndex[role]++), memref, {}));
        break;
      case LLAMA_ABI_ROLE_OUTPUT:
        operands.push_back(
            memrefOver(block->getArgument(nextOutput++), memref, outputRows));
        break;
      }
    }
    func::CallOp::create(b, loc, entry, operands);
    func::ReturnOp::create(b, loc);
  }

private:
  OpBuilder &b;
  Location loc;
  Type ptrType;
  Type i64;
};

struct LlamaEntryABIPass
    : mlir::llama::impl::LlamaEntryABIPassBase<LlamaEntryABIPass> {
  using LlamaEntryABIPassBase::LlamaEntryABIPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (llama::isEntryPoint(func))
        entries.push_back(func);
    // Only the wrappers and the manifest are the artifact's interface: the
    // entry points, the layer functions and the helpers bufferization added
    // become internal, so LLVM may inline or drop them.
    for (auto func : module.getOps<func::FuncOp>())
      if (func.isPrivate() && !func.isExternal())
        func->setAttr(
            "llvm.linkage",
            LLVM::LinkageAttr::get(&getContext(), LLVM::Linkage::Internal));
    // A module of plain functions (an op test) has no C interface to add.
    if (entries.empty())
      return;

    OpBuilder b(&getContext());
    Location loc = module.getLoc();
    SmallVector<SmallVector<ArgRole>> roles;
    DenseMap<func::FuncOp, StringRef> kinds;
    for (func::FuncOp entry : entries) {
      FailureOr<SmallVector<ArgRole>> entryRoles = argumentRoles(entry);
      if (failed(entryRoles))
        return signalPassFailure();
      kinds[entry] = entryKind(*entryRoles);
      roles.push_back(std::move(*entryRoles));
    }
    FailureOr<std::string> manifest =
        llama::manifestJson(module, entries, kinds, target);
    if (failed(manifest))
      return signalPassFailure();
    for (auto [entry, entryRoles] : llvm::zip(entries, roles))
      WrapperBuilder(b, loc).build(module, entry, entryRoles);
    b.setInsertionPointToEnd(module.getBody());
    manifest->push_back('\0');
    LLVM::GlobalOp::create(
        b, loc, LLVM::LLVMArrayType::get(b.getI8Type(), manifest->size()),
        /*isConstant=*/true, LLVM::Linkage::External, LLAMA_ABI_MANIFEST_SYMBOL,
        b.getStringAttr(*manifest));
  }
};

} // namespace
