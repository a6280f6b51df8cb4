//===- ModelBuilder.cpp - model description to llama IR -------------------===//
//
// Builds the forward pass the way llama2.c's forward() reads: embedding, then
// per layer rms_norm -> q/k/v -> rope -> cached attention -> o -> residual ->
// rms_norm -> gate/up -> swiglu -> down -> residual, then the final norm and
// the logits. Weights are function arguments named after HF tensors, so one
// compiled artifact serves every checkpoint of the config.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelBuilder.h"

#include "frontend/Weights.h"
#include "dialect/LlamaOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringMap.h"

#include <cmath>

using namespace mlir;

namespace llamac {
namespace {

constexpr int64_t kDynamic = ShapedType::kDynamic;

/// Builds one entry point for `seq` tokens (kDynamic for any number).
class EntryPointBuilder {
public:
  EntryPointBuilder(OpBuilder &builder, const ModelConfig &config)
      : b(builder), loc(builder.getUnknownLoc()), config(config),
        f32(builder.getF32Type()) {}

  func::FuncOp build(StringRef name, int64_t seq);

private:
  func::FuncOp declare(StringRef name, int64_t seq);
  Value makePositions();
  Value attention(int64_t layer, Value x);
  Value feedForward(int64_t layer, Value x);

  /// Values carry their role as a NameLoc; llamac prints it as the SSA name
  /// (%q, %attn_out, %model.norm.weight ...).
  Location named(const Twine &name) {
    return NameLoc::get(b.getStringAttr(name));
  }
  Value rmsNorm(Value x, StringRef weightName, StringRef name) {
    return llama::RMSNormOp::create(b, named(name), x,
                                    weights.lookup(weightName), config.normEps);
  }
  Value linear(Value x, StringRef weightName, StringRef name) {
    return llama::LinearOp::create(b, named(name), x,
                                   weights.lookup(weightName));
  }
  Value layerLinear(Value x, int64_t layer, StringRef module, StringRef name) {
    return linear(x, layerWeightName(layer, module), name);
  }
  /// [seq, heads * head_dim] -> [seq, heads, head_dim]
  Value splitHeads(Value x, int64_t heads, StringRef name);
  /// [seq, heads, head_dim] -> [seq, heads * head_dim]
  Value mergeHeads(Value x, StringRef name);

  OpBuilder &b;
  Location loc;
  const ModelConfig &config;
  Type f32;

  int64_t seq = kDynamic;
  Value tokens;    // [seq] i32
  Value position;  // index of the first token
  Value seqLen;    // index: seq, read from tokens
  Value positions; // [seq] i32: position + 0 .. seq - 1
  llvm::StringMap<Value> weights;
  SmallVector<Value> keyCaches, valueCaches; // per layer [seq_len, n_kv_heads, head_dim]
};

func::FuncOp EntryPointBuilder::declare(StringRef name, int64_t seqArg) {
  seq = seqArg;
  auto cacheType = RankedTensorType::get(
      {config.seqLen, config.nKvHeads, config.headDim()}, f32);
  std::vector<TensorSpec> specs = weightSpecs(config);

  SmallVector<Type> inputs = {RankedTensorType::get({seq}, b.getI32Type()),
                              b.getIndexType()};
  for (const TensorSpec &spec : specs)
    inputs.push_back(RankedTensorType::get(spec.shape, f32));
  SmallVector<Type> caches(2 * config.nLayers, cacheType);
  inputs.append(caches);
  SmallVector<Type> results = {
      RankedTensorType::get({seq, config.vocabSize}, f32)};
  results.append(caches);

  auto func = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(inputs, results));
  // Arguments are named after what they hold.
  SmallVector<Location> argLocs = {named("tokens"), named("position")};
  for (const TensorSpec &spec : specs)
    argLocs.push_back(named(spec.name));
  for (int64_t layer = 0; layer < config.nLayers; ++layer) {
    argLocs.push_back(named("layers." + Twine(layer) + ".k_cache"));
    argLocs.push_back(named("layers." + Twine(layer) + ".v_cache"));
  }
  auto nameAttr = [&](StringRef kind, const Twine &value) {
    return b.getNamedAttr(kind, b.getStringAttr(value));
  };
  func.setArgAttrs(0, {nameAttr("llama.input", "tokens")});
  func.setArgAttrs(1, {nameAttr("llama.input", "position")});
  func.setResultAttrs(0, {nameAttr("llama.output", "logits")});
  unsigned argIndex = 2;
  for (const TensorSpec &spec : specs)
    func.setArgAttrs(argIndex++, {nameAttr("llama.weight", spec.name)});
  for (int64_t layer = 0; layer < config.nLayers; ++layer) {
    for (StringRef kind : {"key", "value"}) {
      NamedAttribute cacheName = nameAttr(
          "llama.kv_cache", "layers." + Twine(layer) + "." + kind);
      unsigned resultIndex = argIndex - (2 + specs.size()) + 1;
      func.setArgAttrs(argIndex++, {cacheName});
      func.setResultAttrs(resultIndex, {cacheName});
    }
  }

  Block *entry = b.createBlock(&func.getBody(), {}, inputs, argLocs);
  b.setInsertionPointToStart(entry);
  tokens = entry->getArgument(0);
  position = entry->getArgument(1);
  for (auto [spec, arg] :
       llvm::zip(specs, entry->getArguments().slice(2, specs.size())))
    weights[spec.name] = arg;
  for (int64_t layer = 0; layer < config.nLayers; ++layer) {
    keyCaches.push_back(entry->getArgument(2 + specs.size() + 2 * layer));
    valueCaches.push_back(entry->getArgument(2 + specs.size() + 2 * layer + 1));
  }
  return func;
}

Value EntryPointBuilder::makePositions() {
  auto type = RankedTensorType::get({seq}, b.getI32Type());
  SmallVector<Value> dynamicSizes;
  if (seq == kDynamic)
    dynamicSizes.push_back(seqLen);
  return tensor::GenerateOp::create(
      b, named("positions"), type, dynamicSizes,
      [&](OpBuilder &nested, Location, ValueRange indices) {
        Value index = arith::AddIOp::create(nested, loc, position, indices[0]);
        Value cast =
            arith::IndexCastOp::create(nested, loc, nested.getI32Type(), index);
        tensor::YieldOp::create(nested, loc, cast);
      });
}

Value EntryPointBuilder::splitHeads(Value x, int64_t heads, StringRef name) {
  auto type = RankedTensorType::get({seq, heads, config.headDim()}, f32);
  SmallVector<OpFoldResult> shape = {
      seq == kDynamic ? OpFoldResult(seqLen) : OpFoldResult(b.getIndexAttr(seq)),
      b.getIndexAttr(heads), b.getIndexAttr(config.headDim())};
  return tensor::ExpandShapeOp::create(b, named(name), type, x,
                                       ArrayRef<ReassociationIndices>{{0}, {1, 2}},
                                       shape);
}

Value EntryPointBuilder::mergeHeads(Value x, StringRef name) {
  auto source = cast<RankedTensorType>(x.getType());
  auto type = RankedTensorType::get(
      {seq, source.getDimSize(1) * source.getDimSize(2)}, f32);
  return tensor::CollapseShapeOp::create(
      b, named(name), type, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
}

Value EntryPointBuilder::attention(int64_t layer, Value x) {
  Value xn = rmsNorm(x, layerWeightName(layer, "input_layernorm"), "attn_norm");
  Value q = splitHeads(layerLinear(xn, layer, "self_attn.q_proj", "q_proj"),
                       config.nHeads, "q"); // [seq, n_heads, head_dim]
  Value k = splitHeads(layerLinear(xn, layer, "self_attn.k_proj", "k_proj"),
                       config.nKvHeads, "k"); // [seq, n_kv_heads, head_dim]
  Value v = splitHeads(layerLinear(xn, layer, "self_attn.v_proj", "v_proj"),
                       config.nKvHeads, "v"); // [seq, n_kv_heads, head_dim]
  q = llama::RoPEOp::create(b, named("q_rot"), q, positions, config.ropeTheta);
  k = llama::RoPEOp::create(b, named("k_rot"), k, positions, config.ropeTheta);
  auto attn = llama::CachedAttentionOp::create(
      b, loc, q, k, v, keyCaches[layer], valueCaches[layer],
      position, 1.0 / std::sqrt(static_cast<double>(config.headDim())));
  keyCaches[layer] = attn.getNewKeyCache();
  valueCaches[layer] = attn.getNewValueCache();
  Value out = layerLinear(mergeHeads(attn.getResult(), "attn_heads"), layer,
                          "self_attn.o_proj", "attn_out");
  return llama::AddOp::create(b, named("h"), x, out);
}

Value EntryPointBuilder::feedForward(int64_t layer, Value x) {
  Value xn = rmsNorm(x, layerWeightName(layer, "post_attention_layernorm"),
                     "ffn_norm");
  Value gate = layerLinear(xn, layer, "mlp.gate_proj", "gate");
  Value up = layerLinear(xn, layer, "mlp.up_proj", "up");
  Value hidden = llama::SwiGLUOp::create(b, named("ffn_hidden"), gate, up);
  Value down = layerLinear(hidden, layer, "mlp.down_proj", "ffn_out");
  return llama::AddOp::create(b, named("x"), x, down);
}

func::FuncOp EntryPointBuilder::build(StringRef name, int64_t seqArg) {
  func::FuncOp func = declare(name, seqArg);
  if (seq == kDynamic)
    seqLen = tensor::DimOp::create(
        b, named("seq"), tokens, arith::ConstantIndexOp::create(b, loc, 0));
  positions = makePositions(); // [seq]

  Value x = llama::EmbeddingOp::create(b, named("x"),
                                       weights.lookup(kEmbeddingWeight),
                                       tokens, f32); // [seq, dim]
  for (int64_t layer = 0; layer < config.nLayers; ++layer)
    x = feedForward(layer, attention(layer, x));
  x = rmsNorm(x, kFinalNormWeight, "final_norm");
  Value logits = linear(x,
                        config.tieEmbeddings ? kEmbeddingWeight : kLmHeadWeight,
                        "logits"); // [seq, vocab_size]

  SmallVector<Value> results = {logits};
  for (int64_t layer = 0; layer < config.nLayers; ++layer) {
    results.push_back(keyCaches[layer]);
    results.push_back(valueCaches[layer]);
  }
  func::ReturnOp::create(b, loc, results);
  return func;
}

DictionaryAttr configAttr(Builder &b, const ModelConfig &config) {
  auto i64 = [&](int64_t value) { return b.getI64IntegerAttr(value); };
  return b.getDictionaryAttr({
      b.getNamedAttr("dim", i64(config.dim)),
      b.getNamedAttr("hidden_dim", i64(config.hiddenDim)),
      b.getNamedAttr("n_layers", i64(config.nLayers)),
      b.getNamedAttr("n_heads", i64(config.nHeads)),
      b.getNamedAttr("n_kv_heads", i64(config.nKvHeads)),
      b.getNamedAttr("head_dim", i64(config.headDim())),
      b.getNamedAttr("vocab_size", i64(config.vocabSize)),
      b.getNamedAttr("seq_len", i64(config.seqLen)),
      b.getNamedAttr("norm_eps", b.getF64FloatAttr(config.normEps)),
      b.getNamedAttr("rope_theta", b.getF64FloatAttr(config.ropeTheta)),
      b.getNamedAttr("tie_embeddings", b.getBoolAttr(config.tieEmbeddings)),
  });
}

} // namespace

void loadModelDialects(MLIRContext &context) {
  context.loadDialect<llama::LlamaDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
}

OwningOpRef<ModuleOp> buildModelModule(MLIRContext &context,
                                       const ModelConfig &config) {
  loadModelDialects(context);
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  (*module)->setAttr("llama.config", configAttr(b, config));
  for (auto [name, seq] : {std::pair<StringRef, int64_t>{"prefill", kDynamic},
                           {"decode", 1}}) {
    b.setInsertionPointToEnd(module->getBody());
    EntryPointBuilder(b, config).build(name, seq);
  }
  return module;
}

} // namespace llamac
