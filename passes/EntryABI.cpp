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

#include "llvm/Support/JSON.h"

namespace mlir::llama {
#define GEN_PASS_DEF_LLAMAPRIVATIZEENTRYPOINTSPASS
#define GEN_PASS_DEF_LLAMAENTRYABIPASS
#include "passes/Passes.h.inc"
} // namespace mlir::llama

using namespace mlir;

namespace {

/// What an entry-point argument holds, from the attributes the frontend put
/// on it. The logits out-parameter added by bufferization has none.
enum class ArgRole { Tokens, Position, Weight, KvCache, Logits };

FailureOr<SmallVector<ArgRole>> argumentRoles(func::FuncOp func) {
  SmallVector<ArgRole> roles;
  unsigned logits = 0;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (auto input = func.getArgAttrOfType<StringAttr>(i, "llama.input"))
      roles.push_back(input.getValue() == "tokens" ? ArgRole::Tokens
                                                   : ArgRole::Position);
    else if (func.getArgAttr(i, "llama.weight"))
      roles.push_back(ArgRole::Weight);
    else if (func.getArgAttr(i, "llama.kv_cache"))
      roles.push_back(ArgRole::KvCache);
    else {
      roles.push_back(ArgRole::Logits);
      ++logits;
    }
  }
  if (logits != 1 || func.getNumResults() != 0)
    return func.emitError()
           << "expected the logits as the only out-parameter after "
              "bufferization (the KV caches must be updated in place), found "
           << logits << " out-parameters and " << func.getNumResults()
           << " results";
  return roles;
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
    auto descriptorType = LLVM::LLVMStructType::getLiteral(
        b.getContext(), {ptrType, ptrType, i64, sizesType, sizesType});
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

  /// void llama_<name>(tokens, n_tokens, position, weights, kv_caches, logits)
  void build(ModuleOp module, func::FuncOp entry, ArrayRef<ArgRole> roles) {
    b.setInsertionPointToEnd(module.getBody());
    auto wrapper = func::FuncOp::create(
        b, loc, ("llama_" + entry.getName()).str(),
        b.getFunctionType({ptrType, i64, i64, ptrType, ptrType, ptrType}, {}));
    Block *block = wrapper.addEntryBlock();
    b.setInsertionPointToStart(block);
    Value tokens = block->getArgument(0), numTokens = block->getArgument(1),
          position = block->getArgument(2), weights = block->getArgument(3),
          caches = block->getArgument(4), logits = block->getArgument(5);

    SmallVector<Value> operands;
    int64_t weightIndex = 0, cacheIndex = 0;
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
      case ArgRole::Weight:
        operands.push_back(
            memrefOver(loadPointer(weights, weightIndex++), memref, {}));
        break;
      case ArgRole::KvCache:
        operands.push_back(
            memrefOver(loadPointer(caches, cacheIndex++), memref, {}));
        break;
      case ArgRole::Logits:
        operands.push_back(memrefOver(logits, memref, numTokens));
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
    entryPoints.push_back(llvm::json::Object{
        {"name", func.getName().str()},
        {"symbol", ("llama_" + func.getName()).str()},
        {"max_tokens", tokens.isDynamicDim(0) ? llvm::json::Value(nullptr)
                                              : tokens.getDimSize(0)}});
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
