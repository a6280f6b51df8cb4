//===- EntryABI.cpp - C entry points and the artifact manifest ------------===//
//
// After bufferization an entry point takes one memref per weight and cache, a
// number that depends on the model. The runtime instead calls every model
// through one C signature, with arrays of pointers; this pass writes the
// wrapper that turns those pointers into memref descriptors, and embeds the
// manifest the runtime checks before it binds anything.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/JSON.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAPRIVATIZEENTRYPOINTSPASS
#define GEN_PASS_DEF_LLAMAENTRYABIPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// What an entry-point argument holds, from the attributes the frontend put
/// on it. The out-parameter bufferization adds for the logits (or the loss)
/// has none.
enum class ArgRole {
  Tokens,
  Position,
  LossMask,
  Weight,
  KvCache,
  Output,  // the logits or the loss
  Gradient // the weights' gradients, after the loss (llama-autodiff)
};

FailureOr<SmallVector<ArgRole>> argumentRoles(func::FuncOp func) {
  SmallVector<ArgRole> roles;
  unsigned outputs = 0;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (auto input = func.getArgAttrOfType<StringAttr>(i, "llama.input")) {
      std::optional<ArgRole> role =
          llvm::StringSwitch<std::optional<ArgRole>>(input.getValue())
              .Case("tokens", ArgRole::Tokens)
              .Case("position", ArgRole::Position)
              .Case("loss_mask", ArgRole::LossMask)
              .Default(std::nullopt);
      if (!role)
        return func.emitError() << "unknown llama.input " << input;
      roles.push_back(*role);
    } else if (func.getArgAttr(i, "llama.weight")) {
      roles.push_back(ArgRole::Weight);
    } else if (func.getArgAttr(i, "llama.kv_cache")) {
      roles.push_back(ArgRole::KvCache);
    } else {
      // Out-parameters come in result order: logits or loss, then gradients.
      roles.push_back(outputs++ ? ArgRole::Gradient : ArgRole::Output);
    }
  }
  unsigned expected = 1 + llvm::count(roles, ArgRole::Gradient);
  if (outputs != expected || func.getNumResults() != 0 ||
      (outputs > 1 && llvm::is_contained(roles, ArgRole::KvCache)))
    return func.emitError()
           << "expected the logits or loss (and gradients) as the only "
              "out-parameters after bufferization (the KV caches must be "
              "updated in place), found "
           << outputs << " out-parameters and " << func.getNumResults()
           << " results";
  return roles;
}

/// The arguments bufferization added for results (they carry no llama.*).
unsigned numOutParameters(func::FuncOp func) {
  unsigned count = 0;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
    if (!func.getArgAttr(i, "llama.input") &&
        !func.getArgAttr(i, "llama.weight") &&
        !func.getArgAttr(i, "llama.kv_cache"))
      ++count;
  return count;
}

bool isEntryPoint(func::FuncOp func) {
  return func.getNumArguments() > 0 && func.getArgAttr(0, "llama.input");
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

  /// void llama_<name>(tokens[, n_tokens][, position][, loss_mask], weights
  ///                    [, kv_caches][, gradients], output)
  /// n_tokens comes with 1-D (inference) tokens; the others with their roles.
  void build(ModuleOp module, func::FuncOp entry, ArrayRef<ArgRole> roles) {
    auto has = [&](ArgRole role) { return llvm::is_contained(roles, role); };
    auto tokensType = cast<MemRefType>(entry.getArgumentTypes()[0]);
    bool countTokens = tokensType.getRank() == 1;
    SmallVector<Type> params = {ptrType};
    if (countTokens)
      params.push_back(i64);
    if (has(ArgRole::Position))
      params.push_back(i64);
    if (has(ArgRole::LossMask))
      params.push_back(ptrType);
    params.push_back(ptrType); // weights
    if (has(ArgRole::KvCache))
      params.push_back(ptrType);
    if (has(ArgRole::Gradient))
      params.push_back(ptrType);
    params.push_back(ptrType); // output

    b.setInsertionPointToEnd(module.getBody());
    auto wrapper = func::FuncOp::create(b, loc,
                                        ("llama_" + entry.getName()).str(),
                                        b.getFunctionType(params, {}));
    Block *block = wrapper.addEntryBlock();
    b.setInsertionPointToStart(block);
    auto next = [&, index = 0u]() mutable { return block->getArgument(index++); };
    Value tokens = next();
    Value numTokens = countTokens ? next() : Value();
    Value position = has(ArgRole::Position) ? next() : Value();
    Value lossMask = has(ArgRole::LossMask) ? next() : Value();
    Value weights = next();
    Value caches = has(ArgRole::KvCache) ? next() : Value();
    Value gradients = has(ArgRole::Gradient) ? next() : Value();
    Value output = next();

    SmallVector<Value> operands;
    int64_t weightIndex = 0, cacheIndex = 0, gradientIndex = 0;
    for (auto [role, type] : llvm::zip(roles, entry.getArgumentTypes())) {
      auto memref = dyn_cast<MemRefType>(type);
      switch (role) {
      case ArgRole::Tokens:
        operands.push_back(memrefOver(tokens, memref, numTokens));
        break;
      case ArgRole::Position:
        operands.push_back(
            arith::IndexCastOp::create(b, loc, b.getIndexType(), position));
        break;
      case ArgRole::LossMask:
        operands.push_back(memrefOver(lossMask, memref, {}));
        break;
      case ArgRole::Weight:
        operands.push_back(
            memrefOver(loadPointer(weights, weightIndex++), memref, {}));
        break;
      case ArgRole::KvCache:
        operands.push_back(
            memrefOver(loadPointer(caches, cacheIndex++), memref, {}));
        break;
      case ArgRole::Output:
        operands.push_back(memrefOver(output, memref, numTokens));
        break;
      case ArgRole::Gradient:
        operands.push_back(
            memrefOver(loadPointer(gradients, gradientIndex++), memref, {}));
        break;
      }
    }
    func::CallOp::create(b, loc, entry, operands);
    func::ReturnOp::create(b, loc);
    // Only the wrapper is the artifact's interface; LLVM may inline the rest.
    entry->setAttr("llvm.linkage", LLVM::LinkageAttr::get(
                                       b.getContext(), LLVM::Linkage::Internal));
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
                         ArrayRef<func::FuncOp> entries) {
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
                             {"symbol", ("llama_" + func.getName()).str()}};
    if (tokens.getRank() == 1) {
      point["kind"] = "inference";
      point["max_tokens"] = tokens.isDynamicDim(0)
                                ? llvm::json::Value(nullptr)
                                : llvm::json::Value(tokens.getDimSize(0));
    } else { // tokens [batch, seq + 1]
      point["kind"] = numOutParameters(func) > 1 ? "train_grad" : "train_loss";
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

struct LlamaPrivatizeEntryPointsPass
    : mlir::llama::impl::LlamaPrivatizeEntryPointsPassBase<
          LlamaPrivatizeEntryPointsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (isEntryPoint(func))
        func.setPrivate();
  }
};

struct LlamaEntryABIPass
    : mlir::llama::impl::LlamaEntryABIPassBase<LlamaEntryABIPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> entries;
    for (auto func : module.getOps<func::FuncOp>())
      if (isEntryPoint(func))
        entries.push_back(func);
    if (entries.empty()) {
      module.emitError("no llama entry point (a function whose first "
                       "argument has llama.input) to expose");
      return signalPassFailure();
    }
    OpBuilder b(&getContext());
    Location loc = module.getLoc();
    std::string manifest = manifestJson(module, entries.front(), entries);
    for (func::FuncOp entry : entries) {
      FailureOr<SmallVector<ArgRole>> roles = argumentRoles(entry);
      if (failed(roles))
        return signalPassFailure();
      WrapperBuilder(b, loc).build(module, entry, *roles);
    }
    b.setInsertionPointToEnd(module.getBody());
    manifest.push_back('\0');
    LLVM::GlobalOp::create(
        b, loc,
        LLVM::LLVMArrayType::get(b.getI8Type(), manifest.size()),
        /*isConstant=*/true, LLVM::Linkage::External, "llama_manifest",
        b.getStringAttr(manifest));
  }
};

} // namespace
