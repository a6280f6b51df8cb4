//===- EntryABI.cpp - C entry points and the artifact manifest ------------===//
//
// After bufferization an entry point takes one memref per weight and cache, a
// number that depends on the model. The runtime instead calls every model
// through one C signature, with arrays of pointers; this pass writes the
// wrapper that turns those pointers into memref descriptors, and embeds the
// manifest the runtime checks before it binds anything.
//
//===----------------------------------------------------------------------===//

#include "passes/ABI/EntryPoints.h"
#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/JSON.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAENTRYABIPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// What an entry-point argument holds, from the attributes the frontend and
/// the training passes put on it. Out-parameters that bufferization added
/// for results carry none; they take their role from the result they
/// replace (recorded by llama-privatize-entry-points).
enum class ArgRole {
  Tokens,
  Position,
  LossMask,
  StepParams, // [learning rate, step]
  Weight,
  KvCache,
  AdamM,
  AdamV,
  Gradient, // out: d loss / d weight
  Output    // out: the logits, the loss, the gradient norm
};

/// Roles passed as one array of pointers, in argument order.
constexpr std::pair<StringRef, ArgRole> kArrayRoles[] = {
    {"llama.weight", ArgRole::Weight},
    {"llama.kv_cache", ArgRole::KvCache},
    {"llama.adam_m", ArgRole::AdamM},
    {"llama.adam_v", ArgRole::AdamV}};

/// Results that are updated in place and so are no out-parameter.
bool isInPlaceResult(DictionaryAttr attrs) {
  return attrs && (attrs.get("llama.kv_cache") || attrs.get("llama.updated"));
}

FailureOr<SmallVector<ArgRole>> argumentRoles(func::FuncOp func) {
  SmallVector<ArgRole> outRoles; // the out-parameters' roles, in order
  if (auto results = func->getAttrOfType<ArrayAttr>("llama.result_attrs"))
    for (auto attrs : results.getAsRange<DictionaryAttr>())
      if (!isInPlaceResult(attrs))
        outRoles.push_back(attrs && attrs.get("llama.grad") ? ArgRole::Gradient
                                                            : ArgRole::Output);
  SmallVector<ArgRole> roles;
  unsigned outputs = 0;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (auto input = func.getArgAttrOfType<StringAttr>(i, "llama.input")) {
      std::optional<ArgRole> role =
          llvm::StringSwitch<std::optional<ArgRole>>(input.getValue())
              .Case("tokens", ArgRole::Tokens)
              .Case("position", ArgRole::Position)
              .Case("loss_mask", ArgRole::LossMask)
              .Case("step_params", ArgRole::StepParams)
              .Default(std::nullopt);
      if (!role)
        return func.emitError() << "unknown llama.input " << input;
      roles.push_back(*role);
      continue;
    }
    auto array = llvm::find_if(kArrayRoles, [&](const auto &entry) {
      return func.getArgAttr(i, entry.first) != nullptr;
    });
    if (array != std::end(kArrayRoles)) {
      roles.push_back(array->second);
      continue;
    }
    if (outputs >= outRoles.size())
      break;
    roles.push_back(outRoles[outputs++]);
  }
  if (roles.size() != func.getNumArguments() || outputs != outRoles.size() ||
      func.getNumResults() != 0)
    return func.emitError()
           << "expected " << outRoles.size()
           << " out-parameters after bufferization and no results (updated "
              "tensors must be written in place), found "
           << func.getNumArguments() - (roles.size() - outputs)
           << " out-parameters and " << func.getNumResults() << " results";
  return roles;
}

const char *entryKind(ArrayRef<ArgRole> roles) {
  auto has = [&](ArgRole role) { return llvm::is_contained(roles, role); };
  return has(ArgRole::Position)   ? "inference"
         : has(ArgRole::AdamM)    ? "train_step"
         : has(ArgRole::Gradient) ? "train_grad"
                                  : "train_loss";
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

  /// void llama_<name>(tokens[, n_tokens][, position][, loss_mask]
  ///                    [, step_params], weights[, kv_caches][, adam_m,
  ///                    adam_v][, gradients], outputs...)
  /// n_tokens comes with 1-D (inference) tokens, each other parameter with
  /// its role; arrays hold one pointer per tensor, in argument order.
  void build(ModuleOp module, func::FuncOp entry, ArrayRef<ArgRole> roles) {
    auto has = [&](ArgRole role) { return llvm::is_contained(roles, role); };
    auto tokensType = cast<MemRefType>(entry.getArgumentTypes()[0]);
    bool countTokens = tokensType.getRank() == 1;
    // Parameter order: the roles in enum order; outputs last, one each.
    SmallVector<Type> params;
    DenseMap<unsigned, unsigned> paramOf; // role -> wrapper parameter
    for (ArgRole role : {ArgRole::Tokens, ArgRole::Position, ArgRole::LossMask,
                         ArgRole::StepParams, ArgRole::Weight, ArgRole::KvCache,
                         ArgRole::AdamM, ArgRole::AdamV, ArgRole::Gradient}) {
      if (!has(role))
        continue;
      paramOf[unsigned(role)] = params.size();
      params.push_back(role == ArgRole::Position ? i64 : ptrType);
      if (role == ArgRole::Tokens && countTokens)
        params.push_back(i64);
    }
    unsigned firstOutput = params.size();
    params.append(llvm::count(roles, ArgRole::Output), ptrType);

    b.setInsertionPointToEnd(module.getBody());
    auto wrapper =
        func::FuncOp::create(b, loc, ("llama_" + entry.getName()).str(),
                             b.getFunctionType(params, {}));
    Block *block = wrapper.addEntryBlock();
    b.setInsertionPointToStart(block);
    auto param = [&](ArgRole role) {
      return block->getArgument(paramOf.lookup(unsigned(role)));
    };
    Value numTokens =
        countTokens
            ? block->getArgument(paramOf.lookup(unsigned(ArgRole::Tokens)) + 1)
            : Value();

    SmallVector<Value> operands;
    DenseMap<unsigned, int64_t> nextIndex; // per array role
    unsigned nextOutput = firstOutput;
    for (auto [role, type] : llvm::zip(roles, entry.getArgumentTypes())) {
      auto memref = dyn_cast<MemRefType>(type);
      switch (role) {
      case ArgRole::Tokens:
        operands.push_back(memrefOver(param(role), memref, numTokens));
        break;
      case ArgRole::Position:
        operands.push_back(
            arith::IndexCastOp::create(b, loc, b.getIndexType(), param(role)));
        break;
      case ArgRole::LossMask:
      case ArgRole::StepParams:
        operands.push_back(memrefOver(param(role), memref, {}));
        break;
      case ArgRole::Weight:
      case ArgRole::KvCache:
      case ArgRole::AdamM:
      case ArgRole::AdamV:
      case ArgRole::Gradient:
        operands.push_back(memrefOver(
            loadPointer(param(role), nextIndex[unsigned(role)]++), memref, {}));
        break;
      case ArgRole::Output:
        operands.push_back(
            memrefOver(block->getArgument(nextOutput++), memref, numTokens));
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

llvm::json::Value attributeToJson(Attribute attr) {
  if (auto b = dyn_cast<BoolAttr>(attr))
    return b.getValue();
  if (auto i = dyn_cast<IntegerAttr>(attr))
    return i.getInt();
  if (auto f = dyn_cast<FloatAttr>(attr))
    return f.getValueAsDouble();
  if (auto s = dyn_cast<StringAttr>(attr))
    return s.getValue().str();
  return nullptr;
}

std::string manifestJson(ModuleOp module, func::FuncOp entry,
                         ArrayRef<func::FuncOp> entries,
                         const DenseMap<func::FuncOp, StringRef> &kinds) {
  llvm::json::Object config;
  if (auto dict = module->getAttrOfType<DictionaryAttr>("llama.config"))
    for (NamedAttribute field : dict)
      config[field.getName().getValue()] = attributeToJson(field.getValue());

  llvm::json::Array weights;
  llvm::json::Array caches;
  for (unsigned i = 0, e = entry.getNumArguments(); i < e; ++i) {
    auto type = dyn_cast<MemRefType>(entry.getArgumentTypes()[i]);
    if (!type)
      continue;
    llvm::json::Array shape;
    for (int64_t size : type.getShape())
      shape.push_back(size);
    if (auto name = entry.getArgAttrOfType<StringAttr>(i, "llama.weight"))
      weights.push_back(llvm::json::Object{{"name", name.getValue().str()},
                                           {"shape", std::move(shape)}});
    else if (auto name =
                 entry.getArgAttrOfType<StringAttr>(i, "llama.kv_cache"))
      caches.push_back(llvm::json::Object{{"name", name.getValue().str()},
                                          {"shape", std::move(shape)}});
  }

  llvm::json::Array entryPoints;
  for (func::FuncOp func : entries) {
    auto tokens = cast<MemRefType>(func.getArgumentTypes()[0]);
    llvm::json::Object point{{"name", func.getName().str()},
                             {"symbol", ("llama_" + func.getName()).str()},
                             {"kind", kinds.lookup(func)}};
    if (tokens.getRank() == 1) {
      point["max_tokens"] = tokens.isDynamicDim(0)
                                ? llvm::json::Value(nullptr)
                                : llvm::json::Value(tokens.getDimSize(0));
    } else { // tokens [batch, seq + 1]
      point["batch"] = tokens.getDimSize(0);
      point["seq"] = tokens.getDimSize(1) - 1;
    }
    entryPoints.push_back(std::move(point));
  }

  llvm::json::Object manifest{
      {"format", "llamac-artifact"},
      {"version", 1},
      {"compiler", "llamac " LLAMAC_VERSION},
      {"dtype", "f32"},
      {"config", std::move(config)},
      {"weights", std::move(weights)},
      {"kv_caches", std::move(caches)},
      {"entry_points", std::move(entryPoints)},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(manifest));
  return text;
}

struct LlamaEntryABIPass
    : mlir::llama::impl::LlamaEntryABIPassBase<LlamaEntryABIPass> {
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
    std::string manifest =
        manifestJson(module, entries.front(), entries, kinds);
    for (auto [entry, entryRoles] : llvm::zip(entries, roles))
      WrapperBuilder(b, loc).build(module, entry, entryRoles);
    b.setInsertionPointToEnd(module.getBody());
    manifest.push_back('\0');
    LLVM::GlobalOp::create(
        b, loc, LLVM::LLVMArrayType::get(b.getI8Type(), manifest.size()),
        /*isConstant=*/true, LLVM::Linkage::External, "llama_manifest",
        b.getStringAttr(manifest));
  }
};

} // namespace
