//===- Manifest.cpp - the artifact manifest -------------------------------===//

#include "passes/ABI/Manifest.h"

#include "dialect/LlamaDialect.h"
#include "passes/ABI/EntryPoints.h"
#include "runtime/llama_abi.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/Support/JSON.h"

namespace mlir::llama {
namespace {

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

/// The tensors entry points take under one role attribute, by name in first
/// argument order, with their shapes.
class TensorList {
public:
  explicit TensorList(StringRef attr) : attr(attr) {}

  LogicalResult add(func::FuncOp entry) {
    for (unsigned i = 0, e = entry.getNumArguments(); i < e; ++i) {
      auto name = entry.getArgAttrOfType<StringAttr>(i, attr);
      if (!name)
        continue;
      auto shape = cast<MemRefType>(entry.getArgumentTypes()[i]).getShape();
      auto [it, inserted] =
          shapes.insert({name.getValue(), SmallVector<int64_t>(shape)});
      if (!inserted && ArrayRef<int64_t>(it->second) != shape)
        return entry.emitError() << "'" << name.getValue()
                                 << "' has another shape in another entry "
                                    "point";
    }
    return success();
  }

  /// The element type every tensor of the list shares (null when empty);
  /// fails when two differ.
  FailureOr<Type> elementType(func::FuncOp entry) const {
    Type shared;
    for (unsigned i = 0, e = entry.getNumArguments(); i < e; ++i) {
      if (!entry.getArgAttrOfType<StringAttr>(i, attr))
        continue;
      Type type =
          cast<MemRefType>(entry.getArgumentTypes()[i]).getElementType();
      if (shared && shared != type)
        return entry.emitError() << "weights of two element types (" << shared
                                 << ", " << type << ")";
      shared = type;
    }
    return shared;
  }

  llvm::json::Array toJson() const {
    llvm::json::Array list;
    for (const auto &[name, shape] : shapes)
      list.push_back(
          llvm::json::Object{{LLAMA_ABI_KEY_NAME, name.str()},
                             {LLAMA_ABI_KEY_SHAPE, llvm::json::Array(shape)}});
    return list;
  }

private:
  StringRef attr;
  llvm::MapVector<StringRef, SmallVector<int64_t>> shapes;
};

/// The manifest's name of a weight element type.
FailureOr<StringRef> dtypeName(Type type) {
  if (type.isF32())
    return StringRef(LLAMA_ABI_DTYPE_F32);
  if (type.isBF16())
    return StringRef(LLAMA_ABI_DTYPE_BF16);
  if (type.isF16())
    return StringRef(LLAMA_ABI_DTYPE_F16);
  return failure();
}

} // namespace

FailureOr<std::string>
manifestJson(ModuleOp module, ArrayRef<func::FuncOp> entries,
             const DenseMap<func::FuncOp, StringRef> &kinds, StringRef target) {
  llvm::json::Object config;
  if (auto dict = module->getAttrOfType<DictionaryAttr>(kConfigAttr))
    for (NamedAttribute field : dict)
      config[field.getName().getValue()] = attributeToJson(field.getValue());

  TensorList weights(kWeightAttr), caches(kKvCacheAttr);
  llvm::json::Array entryPoints;
  StringRef dtype; // of the weights, shared by every entry point
  for (func::FuncOp entry : entries) {
    if (failed(weights.add(entry)) || failed(caches.add(entry)))
      return failure();
    FailureOr<Type> weightType = weights.elementType(entry);
    if (failed(weightType))
      return failure();
    if (*weightType) {
      FailureOr<StringRef> name = dtypeName(*weightType);
      if (failed(name))
        return entry.emitError() << "weights of element type " << *weightType
                                 << ": the ABI takes f32, bf16 or f16";
      if (!dtype.empty() && *name != dtype)
        return entry.emitError() << "weights of another element type than "
                                    "the other entry points'";
      dtype = *name;
    }
    auto tokens = cast<MemRefType>(entry.getArgumentTypes()[0]);
    llvm::json::Object point{{LLAMA_ABI_KEY_NAME, entry.getName().str()},
                             {LLAMA_ABI_KEY_SYMBOL, entrySymbol(entry)},
                             {LLAMA_ABI_KEY_KIND, kinds.lookup(entry)}};
    if (tokens.getRank() == 1) {
      point[LLAMA_ABI_KEY_MAX_TOKENS] =
          tokens.isDynamicDim(0) ? llvm::json::Value(nullptr)
                                 : llvm::json::Value(tokens.getDimSize(0));
    } else {
      // Training: tokens [batch, seq + 1] (targets shifted by one); reward
      // models score every position: tokens [batch, seq].
      StringRef kind = kinds.lookup(entry);
      bool scoresRows =
          kind == LLAMA_ABI_KIND_SCORE || kind.starts_with("reward_");
      point[LLAMA_ABI_KEY_BATCH] = tokens.getDimSize(0);
      point[LLAMA_ABI_KEY_SEQ] = tokens.getDimSize(1) - (scoresRows ? 0 : 1);
    }
    entryPoints.push_back(std::move(point));
  }

  llvm::json::Object manifest{
      {LLAMA_ABI_KEY_FORMAT, LLAMA_ABI_FORMAT},
      {LLAMA_ABI_KEY_VERSION, LLAMA_ABI_VERSION},
      {LLAMA_ABI_KEY_COMPILER, "llamac " LLAMAC_VERSION},
      {LLAMA_ABI_KEY_DTYPE, dtype.empty() ? LLAMA_ABI_DTYPE_F32 : dtype},
      {LLAMA_ABI_KEY_TARGET, target.str()},
      {LLAMA_ABI_KEY_CONFIG, std::move(config)},
      {LLAMA_ABI_KEY_WEIGHTS, weights.toJson()},
      {LLAMA_ABI_KEY_KV_CACHES, caches.toJson()},
      {LLAMA_ABI_KEY_ENTRY_POINTS, std::move(entryPoints)},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(manifest));
  return text;
}

} // namespace mlir::llama
