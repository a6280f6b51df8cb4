//===- ModelBuilder.cpp - model description to llama IR -------------------===//
//
// Builds the forward pass the way llama2.c's forward() reads: embedding, then
// per layer rms_norm -> q/k/v -> rope -> cached attention -> o -> residual ->
// rms_norm -> gate/up -> swiglu -> down -> residual (one function, called once
// per layer), then the final norm and the logits. Weights are function
// arguments named after HF tensors, so one compiled artifact serves every
// checkpoint of the config.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelBuilder.h"

#include "dialect/LlamaOps.h"
#include "frontend/Weights.h"
#include "runtime/llama_abi.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/SaveAndRestore.h"

#include <cmath>

using namespace mlir;

namespace llamac {
namespace {

constexpr int64_t kDynamic = ShapedType::kDynamic;

/// Builds one entry point and the function for one of its decoder layers.
/// Inference entry points run `seq` tokens (kDynamic: any number) at a
/// run-time position with a KV cache; the training loss runs a [batch, seq]
/// block from position 0 with plain causal attention. Every layer has the
/// same shapes, so the entry calls one layer function per layer with that
/// layer's weights (and caches): the code, and the time to compile it, do
/// not grow with the number of layers.
class EntryPointBuilder {
public:
  EntryPointBuilder(OpBuilder &builder, const ModelConfig &config,
                    Type weightType, Head head = Head::LanguageModel)
      : b(builder), loc(builder.getUnknownLoc()), config(config),
        f32(builder.getF32Type()), weightType(weightType), head(head) {}

  /// (tokens [seq], position, logit_rows, weights..., caches...)
  ///   -> (logits [logit_rows, vocab], caches...)
  func::FuncOp buildInference(StringRef name, int64_t seq);
  /// (tokens [batch, seq + 1], loss_mask [batch, seq], weights...) -> loss
  func::FuncOp buildTrainLoss(StringRef name, int64_t batch, int64_t seq);
  /// (tokens [rows, seq], sequence_ends [rows], weights...) -> rewards [rows]
  func::FuncOp buildScore(StringRef name, int64_t rows, int64_t seq);
  /// (tokens [2 * pairs, seq], sequence_ends, margins [pairs], weights...)
  ///   -> ranking loss
  func::FuncOp buildRewardLoss(StringRef name, const RewardShape &shape);

  /// (tokens [batch, seq + 1], ppo_params, weights...)
  ///   -> (logprobs, entropy) [batch, seq]
  func::FuncOp buildLogprobs(StringRef name, const TrainShape &shape);
  /// (tokens, loss_mask [batch, seq], ppo_params, old_logprobs, advantages,
  ///  weights...) -> (loss, clip_fraction, approx_kl)
  func::FuncOp buildPolicyLoss(StringRef name, const TrainShape &shape);
  /// (tokens [batch, seq + 1], weights...) -> values [batch, seq]
  func::FuncOp buildValues(StringRef name, const TrainShape &shape);
  /// (tokens, loss_mask, ppo_params, old_values, returns, weights...)
  ///   -> (loss, clip_fraction)
  func::FuncOp buildValueLoss(StringRef name, const TrainShape &shape);

private:
  /// tokens [batch, seq + 1] -> (inputs, targets) [batch, seq]: position t
  /// predicts token t + 1.
  std::pair<Value, Value> shiftTokens(Value tokens, const TrainShape &shape);
  /// ppo_params[index] as an f32 scalar.
  Value ppoParam(Value params, int64_t index, StringRef name);
  /// The PPO loss entries' leading inputs: tokens [batch, seq + 1],
  /// loss_mask [batch, seq], ppo_params, then two more [batch, seq].
  SmallVector<Type> ppoLossInputs(const TrainShape &shape) const;
  /// Creates the function with the weights after `leading` inputs (and the
  /// caches, for inference), returning `outputs` (each type tagged
  /// `llama.output = name`; then the caches); binds the arguments, and sets
  /// the insertion point in its body.
  func::FuncOp declare(StringRef name, ArrayRef<Type> leading,
                       ArrayRef<std::pair<StringRef, StringRef>> leadingNames,
                       ArrayRef<std::pair<Type, StringRef>> outputs,
                       bool withCaches);
  /// @<entry>_layer(x [lead.., dim], positions [seq], (position,)
  ///                layer weights..., (key cache, value cache))
  ///   -> (x [lead.., dim], (key cache, value cache))
  /// placed before the entry point.
  func::FuncOp buildLayer(func::FuncOp entry);
  /// tokens [lead..] -> the last layer's output x [lead.., dim].
  Value decoder(Value tokens, func::FuncOp layer);
  /// x [lead.., dim] -> logits [lead.., vocab_size]; with `logitRows`
  /// (inference), of the last logitRows positions only.
  Value lmHead(Value x, Value logitRows = {});
  /// x [batch, seq, dim] -> values [batch, seq] (the score head everywhere).
  Value valueHead(Value x);
  /// The reward entries' body up to the rewards [rows]: tokens [rows, seq]
  /// through the decoder, then the score head at each row's `ends`.
  Value rewards(func::FuncOp entry, Value tokens, Value ends);
  Value makePositions(Value first, int64_t count);
  /// The leading sizes, the sequence length read off `x` if dynamic.
  void setLead(ArrayRef<int64_t> shape, Value x);
  /// A [batch, seq] block of `tokens` from position 0 with plain causal
  /// attention and no KV cache (training and reward models).
  void startBlock(ArrayRef<int64_t> shape, Value tokens);
  Value attention(Value x);
  Value feedForward(Value x);

  /// Values carry their role as a NameLoc; llamac prints it as the SSA name
  /// (%q, %attn_out, %model.norm.weight ...).
  Location named(const Twine &name) {
    return NameLoc::get(b.getStringAttr(name));
  }
  Value rmsNorm(Value x, Value weight, StringRef name) {
    return llama::RMSNormOp::create(b, named(name), x, weight, config.normEps);
  }
  Value linear(Value x, Value weight, StringRef name) {
    return llama::LinearOp::create(b, named(name), x, weight);
  }
  /// A weight of the layer being built, by module ("self_attn.q_proj").
  Value layerWeight(StringRef module) const {
    Value weight = layerWeights.lookup(module);
    assert(weight && "not a layer weight");
    return weight;
  }
  /// [lead.., heads * head_dim] -> [lead.., heads, head_dim]
  Value splitHeads(Value x, int64_t heads, StringRef name);
  /// [lead.., heads, head_dim] -> [lead.., heads * head_dim]
  Value mergeHeads(Value x, StringRef name);
  SmallVector<ReassociationIndices> headsReassociation() const;

  OpBuilder &b;
  Location loc;
  const ModelConfig &config;
  Type f32;
  Type weightType; // the weights' element type (activations are f32)
  Head head;

  SmallVector<int64_t> lead;           // [seq] or [batch, seq]
  SmallVector<OpFoldResult> leadSizes; // the same, seq as a Value if dynamic
  bool cached = true;                  // KV-cache attention (inference)
  Value position;                      // index of the first token (inference)
  Value positions;                     // [seq] i32: position + 0 .. seq - 1
  llvm::StringMap<Value> weights;      // the entry's, by HF name
  SmallVector<Value> keyCaches,
      valueCaches; // the entry's, per layer [seq_len, n_kv_heads, head_dim]
  // In the layer function: its weights by module, and its caches.
  llvm::StringMap<Value> layerWeights;
  Value keyCache, valueCache;
};

func::FuncOp EntryPointBuilder::declare(
    StringRef name, ArrayRef<Type> leading,
    ArrayRef<std::pair<StringRef, StringRef>> leadingNames,
    ArrayRef<std::pair<Type, StringRef>> outputs, bool withCaches) {
  auto cacheType = RankedTensorType::get(
      {config.seqLen, config.nKvHeads, config.headDim()}, f32);
  std::vector<TensorSpec> specs = weightSpecs(config, head);
  int64_t numCaches = withCaches ? 2 * config.nLayers : 0;

  SmallVector<Type> inputs(leading.begin(), leading.end());
  for (const TensorSpec &spec : specs)
    inputs.push_back(RankedTensorType::get(spec.shape, weightType));
  inputs.append(numCaches, cacheType);
  SmallVector<Type> resultTypes;
  for (auto [type, output] : outputs)
    resultTypes.push_back(type);
  resultTypes.append(numCaches, cacheType);

  auto func = func::FuncOp::create(b, loc, name,
                                   b.getFunctionType(inputs, resultTypes));
  auto nameAttr = [&](StringRef kind, const Twine &value) {
    return b.getNamedAttr(kind, b.getStringAttr(value));
  };
  // Arguments are named after what they hold.
  SmallVector<Location> argLocs;
  unsigned argIndex = 0;
  for (auto [inputName, role] : leadingNames) {
    func.setArgAttrs(argIndex++, {nameAttr(llama::kInputAttr, role)});
    argLocs.push_back(named(inputName));
  }
  for (const TensorSpec &spec : specs) {
    func.setArgAttrs(argIndex++, {nameAttr(llama::kWeightAttr, spec.name)});
    argLocs.push_back(named(spec.name));
  }
  unsigned resultIndex = 0;
  for (auto [type, output] : outputs)
    func.setResultAttrs(resultIndex++, {nameAttr(llama::kOutputAttr, output)});
  for (int64_t layer = 0; layer < numCaches / 2; ++layer) {
    for (StringRef kind : {"key", "value"}) {
      NamedAttribute cacheName =
          nameAttr(llama::kKvCacheAttr, "layers." + Twine(layer) + "." + kind);
      func.setArgAttrs(argIndex++, {cacheName});
      func.setResultAttrs(resultIndex++, {cacheName});
      argLocs.push_back(named("layers." + Twine(layer) + "." +
                              (kind == "key" ? "k" : "v") + "_cache"));
    }
  }

  Block *entry = b.createBlock(&func.getBody(), {}, inputs, argLocs);
  b.setInsertionPointToStart(entry);
  for (auto [spec, arg] : llvm::zip(
           specs, entry->getArguments().slice(leading.size(), specs.size())))
    weights[spec.name] = arg;
  for (int64_t layer = 0; layer < numCaches / 2; ++layer) {
    unsigned first = leading.size() + specs.size() + 2 * layer;
    keyCaches.push_back(entry->getArgument(first));
    valueCaches.push_back(entry->getArgument(first + 1));
  }
  return func;
}

func::FuncOp EntryPointBuilder::buildLayer(func::FuncOp entry) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(entry);
  auto xType =
      RankedTensorType::get(llvm::to_vector(llvm::concat<const int64_t>(
                                lead, ArrayRef<int64_t>{config.dim})),
                            f32);
  SmallVector<Type> inputs = {xType, positions.getType()};
  SmallVector<Location> argLocs = {named("x"), named("positions")};
  if (cached) {
    inputs.push_back(b.getIndexType());
    argLocs.push_back(named("position"));
  }
  std::vector<TensorSpec> specs = layerWeightSpecs(config);
  for (const TensorSpec &spec : specs) {
    inputs.push_back(RankedTensorType::get(spec.shape, weightType));
    argLocs.push_back(named(spec.name + ".weight"));
  }
  SmallVector<Type> results = {xType};
  if (cached) {
    Type cacheType = keyCaches.front().getType();
    inputs.append({cacheType, cacheType});
    argLocs.append({named("k_cache"), named("v_cache")});
    results.append({cacheType, cacheType});
  }
  auto func = func::FuncOp::create(b, loc, (entry.getName() + "_layer").str(),
                                   b.getFunctionType(inputs, results));
  func.setPrivate();
  Block *body = b.createBlock(&func.getBody(), {}, inputs, argLocs);
  b.setInsertionPointToStart(body);

  // The entry's values stand in for the layer's while building it.
  llvm::SaveAndRestore<Value> savePosition(position), savePositions(positions);
  llvm::SaveAndRestore<SmallVector<OpFoldResult>> saveLeadSizes(leadSizes);
  Value x = body->getArgument(0);
  positions = body->getArgument(1);
  unsigned next = 2;
  if (cached)
    position = body->getArgument(next++);
  layerWeights.clear();
  for (const TensorSpec &spec : specs)
    layerWeights[spec.name] = body->getArgument(next++);
  if (cached) {
    keyCache = body->getArgument(next++);
    valueCache = body->getArgument(next++);
  }
  setLead(SmallVector<int64_t>(lead), x);

  SmallVector<Value> returned = {feedForward(attention(x))};
  if (cached)
    returned.append({keyCache, valueCache});
  func::ReturnOp::create(b, loc, returned);
  return func;
}

void EntryPointBuilder::setLead(ArrayRef<int64_t> shape, Value x) {
  lead.assign(shape.begin(), shape.end());
  leadSizes.clear();
  for (auto [index, size] : llvm::enumerate(shape))
    leadSizes.push_back(
        ShapedType::isDynamic(size)
            ? OpFoldResult(tensor::DimOp::create(
                               b, named("seq"), x,
                               arith::ConstantIndexOp::create(b, loc, index))
                               .getResult())
            : OpFoldResult(b.getIndexAttr(size)));
}

void EntryPointBuilder::startBlock(ArrayRef<int64_t> shape, Value tokens) {
  cached = false;
  setLead(shape, tokens);
  positions =
      makePositions(arith::ConstantIndexOp::create(b, loc, 0), shape[1]);
}

Value EntryPointBuilder::makePositions(Value first, int64_t count) {
  auto type = RankedTensorType::get({count}, b.getI32Type());
  SmallVector<Value> dynamicSizes;
  if (count == kDynamic)
    dynamicSizes.push_back(cast<Value>(leadSizes.back()));
  return tensor::GenerateOp::create(
      b, named("positions"), type, dynamicSizes,
      [&](OpBuilder &nested, Location, ValueRange indices) {
        Value index = arith::AddIOp::create(nested, loc, first, indices[0]);
        Value cast =
            arith::IndexCastOp::create(nested, loc, nested.getI32Type(), index);
        tensor::YieldOp::create(nested, loc, cast);
      });
}

SmallVector<ReassociationIndices>
EntryPointBuilder::headsReassociation() const {
  SmallVector<ReassociationIndices> groups;
  for (int64_t i = 0; i < int64_t(lead.size()); ++i)
    groups.push_back({i});
  groups.push_back({int64_t(lead.size()), int64_t(lead.size()) + 1});
  return groups;
}

Value EntryPointBuilder::splitHeads(Value x, int64_t heads, StringRef name) {
  SmallVector<int64_t> shape(lead);
  shape.append({heads, config.headDim()});
  SmallVector<OpFoldResult> sizes(leadSizes);
  sizes.append({b.getIndexAttr(heads), b.getIndexAttr(config.headDim())});
  return tensor::ExpandShapeOp::create(b, named(name),
                                       RankedTensorType::get(shape, f32), x,
                                       headsReassociation(), sizes);
}

Value EntryPointBuilder::mergeHeads(Value x, StringRef name) {
  auto source = cast<RankedTensorType>(x.getType());
  unsigned rank = source.getRank();
  SmallVector<int64_t> shape(lead);
  shape.push_back(source.getDimSize(rank - 2) * source.getDimSize(rank - 1));
  return tensor::CollapseShapeOp::create(b, named(name),
                                         RankedTensorType::get(shape, f32), x,
                                         headsReassociation());
}

Value EntryPointBuilder::attention(Value x) {
  Value xn = rmsNorm(x, layerWeight("input_layernorm"), "attn_norm");
  Value q = splitHeads(linear(xn, layerWeight("self_attn.q_proj"), "q_proj"),
                       config.nHeads, "q"); // [lead.., n_heads, head_dim]
  Value k = splitHeads(linear(xn, layerWeight("self_attn.k_proj"), "k_proj"),
                       config.nKvHeads, "k"); // [lead.., n_kv_heads, head_dim]
  Value v = splitHeads(linear(xn, layerWeight("self_attn.v_proj"), "v_proj"),
                       config.nKvHeads, "v"); // [lead.., n_kv_heads, head_dim]
  q = llama::RoPEOp::create(b, named("q_rot"), q, positions, config.ropeTheta);
  k = llama::RoPEOp::create(b, named("k_rot"), k, positions, config.ropeTheta);
  double scale = 1.0 / std::sqrt(static_cast<double>(config.headDim()));
  Value heads;
  if (cached) {
    auto attn = llama::CachedAttentionOp::create(b, loc, q, k, v, keyCache,
                                                 valueCache, position, scale);
    keyCache = attn.getNewKeyCache();
    valueCache = attn.getNewValueCache();
    heads = attn.getResult();
  } else {
    heads = llama::AttentionOp::create(b, named("attn"), q, k, v, scale);
  }
  Value out = linear(mergeHeads(heads, "attn_heads"),
                     layerWeight("self_attn.o_proj"), "attn_out");
  return llama::AddOp::create(b, named("h"), x, out);
}

Value EntryPointBuilder::feedForward(Value x) {
  Value xn = rmsNorm(x, layerWeight("post_attention_layernorm"), "ffn_norm");
  Value gate = linear(xn, layerWeight("mlp.gate_proj"), "gate");
  Value up = linear(xn, layerWeight("mlp.up_proj"), "up");
  Value hidden = llama::SwiGLUOp::create(b, named("ffn_hidden"), gate, up);
  Value down = linear(hidden, layerWeight("mlp.down_proj"), "ffn_out");
  return llama::AddOp::create(b, named("x"), x, down);
}

Value EntryPointBuilder::decoder(Value tokens, func::FuncOp layer) {
  Value x = llama::EmbeddingOp::create(b, named("x"),
                                       weights.lookup(kEmbeddingWeight), tokens,
                                       f32); // [lead.., dim]
  std::vector<TensorSpec> layerSpecs = layerWeightSpecs(config);
  for (int64_t index = 0; index < config.nLayers; ++index) {
    SmallVector<Value> operands = {x, positions};
    if (cached)
      operands.push_back(position);
    for (const TensorSpec &spec : layerSpecs)
      operands.push_back(weights.lookup(layerWeightName(index, spec.name)));
    if (cached)
      operands.append({keyCaches[index], valueCaches[index]});
    auto call = func::CallOp::create(b, named("layers." + Twine(index)), layer,
                                     operands);
    x = call.getResult(0); // [lead.., dim]
    if (cached) {
      keyCaches[index] = call.getResult(1);
      valueCaches[index] = call.getResult(2);
    }
  }
  return x;
}

Value EntryPointBuilder::lmHead(Value x, Value logitRows) {
  // The LM head (and the final norm) only for the rows the caller wants:
  // the last one when generating.
  if (logitRows && ShapedType::isDynamic(lead.back())) {
    Value seq = cast<Value>(leadSizes.back());
    Value first = arith::SubIOp::create(b, loc, seq, logitRows);
    x = tensor::ExtractSliceOp::create(
        b, named("last_rows"),
        RankedTensorType::get({kDynamic, config.dim}, f32), x,
        ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{logitRows, b.getIndexAttr(config.dim)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }
  x = rmsNorm(x, weights.lookup(kFinalNormWeight), "final_norm");
  return linear(
      x,
      weights.lookup(config.tieEmbeddings ? kEmbeddingWeight : kLmHeadWeight),
      "logits"); // [lead.., vocab_size]
}

func::FuncOp EntryPointBuilder::buildInference(StringRef name, int64_t seq) {
  Type tokensType = RankedTensorType::get({seq}, b.getI32Type());
  Type logitsType = RankedTensorType::get({seq, config.vocabSize}, f32);
  // A fixed-length entry (decode) returns every row; its logit_rows is
  // that length.
  func::FuncOp func =
      declare(name, {tokensType, b.getIndexType(), b.getIndexType()},
              {{"tokens", llama::input::kTokens},
               {"position", llama::input::kPosition},
               {"logit_rows", llama::input::kLogitRows}},
              {{logitsType, llama::output::kLogits}}, /*withCaches=*/true);
  Block &entry = func.getBody().front();
  Value tokens = entry.getArgument(0);
  position = entry.getArgument(1);
  setLead({seq}, tokens);
  positions = makePositions(position, seq);

  SmallVector<Value> results = {
      lmHead(decoder(tokens, buildLayer(func)), entry.getArgument(2))};
  for (int64_t layer = 0; layer < config.nLayers; ++layer) {
    results.push_back(keyCaches[layer]);
    results.push_back(valueCaches[layer]);
  }
  func::ReturnOp::create(b, loc, results);
  return func;
}

func::FuncOp EntryPointBuilder::buildTrainLoss(StringRef name, int64_t batch,
                                               int64_t seq) {
  Type tokensType = RankedTensorType::get({batch, seq + 1}, b.getI32Type());
  Type maskType = RankedTensorType::get({batch, seq}, f32);
  Type lossType = RankedTensorType::get({}, f32);
  func::FuncOp func = declare(name, {tokensType, maskType},
                              {{"tokens", llama::input::kTokens},
                               {"loss_mask", llama::input::kLossMask}},
                              {{lossType, llama::output::kLoss}},
                              /*withCaches=*/false);
  Block &entry = func.getBody().front();
  Value mask = entry.getArgument(1);
  auto [inputs, targets] = shiftTokens(entry.getArgument(0), {batch, seq});
  Value logits =
      lmHead(decoder(inputs, buildLayer(func))); // [batch, seq, vocab]
  Value loss =
      llama::CrossEntropyOp::create(b, named("loss"), logits, targets, mask);
  func::ReturnOp::create(b, loc, loss);
  return func;
}

std::pair<Value, Value>
EntryPointBuilder::shiftTokens(Value tokens, const TrainShape &shape) {
  startBlock({shape.batch, shape.seq}, tokens);
  auto window = [&](int64_t offset, StringRef valueName) -> Value {
    return tensor::ExtractSliceOp::create(
        b, named(valueName), tokens,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(offset)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(shape.batch),
                               b.getIndexAttr(shape.seq)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  };
  return {window(0, "inputs"), window(1, "targets")};
}

Value EntryPointBuilder::ppoParam(Value params, int64_t index, StringRef name) {
  return tensor::ExtractOp::create(
      b, named(name), params,
      ValueRange{arith::ConstantIndexOp::create(b, loc, index)});
}

SmallVector<Type>
EntryPointBuilder::ppoLossInputs(const TrainShape &shape) const {
  auto positions = RankedTensorType::get({shape.batch, shape.seq}, f32);
  return {RankedTensorType::get({shape.batch, shape.seq + 1}, b.getI32Type()),
          positions, RankedTensorType::get({LLAMA_ABI_PPO_PARAMS}, f32),
          positions, positions};
}

func::FuncOp EntryPointBuilder::buildLogprobs(StringRef name,
                                              const TrainShape &shape) {
  SmallVector<Type> inputs = ppoLossInputs(shape);
  Type positionsType = inputs[1];
  func::FuncOp func = declare(name, {inputs[0], inputs[2]},
                              {{"tokens", llama::input::kTokens},
                               {"ppo_params", llama::input::kPPOParams}},
                              {{positionsType, llama::output::kLogprobs},
                               {positionsType, llama::output::kEntropy}},
                              /*withCaches=*/false);
  Block &entry = func.getBody().front();
  auto [tokens, targets] = shiftTokens(entry.getArgument(0), shape);
  Value temperature =
      ppoParam(entry.getArgument(1), LLAMA_ABI_PPO_TEMPERATURE, "temperature");
  Value logits =
      lmHead(decoder(tokens, buildLayer(func))); // [batch, seq, vocab]
  Value logprobs = llama::TokenLogprobsOp::create(
      b, named("logprobs"), positionsType, logits, targets, temperature);
  Value entropy = llama::TokenEntropyOp::create(
      b, named("entropy"), positionsType, logits, temperature);
  func::ReturnOp::create(b, loc, ValueRange{logprobs, entropy});
  return func;
}

func::FuncOp EntryPointBuilder::buildPolicyLoss(StringRef name,
                                                const TrainShape &shape) {
  Type scalar = RankedTensorType::get({}, f32);
  func::FuncOp func = declare(name, ppoLossInputs(shape),
                              {{"tokens", llama::input::kTokens},
                               {"loss_mask", llama::input::kLossMask},
                               {"ppo_params", llama::input::kPPOParams},
                               {"old_logprobs", llama::input::kOldLogprobs},
                               {"advantages", llama::input::kAdvantages}},
                              {{scalar, llama::output::kLoss},
                               {scalar, llama::output::kClipFraction},
                               {scalar, llama::output::kApproxKl}},
                              /*withCaches=*/false);
  Block &entry = func.getBody().front();
  auto [tokens, targets] = shiftTokens(entry.getArgument(0), shape);
  Value params = entry.getArgument(2);
  Value logits =
      lmHead(decoder(tokens, buildLayer(func))); // [batch, seq, vocab]
  Value logprobs = llama::TokenLogprobsOp::create(
      b, named("logprobs"), entry.getArgument(1).getType(), logits, targets,
      ppoParam(params, LLAMA_ABI_PPO_TEMPERATURE, "temperature"));
  auto loss = llama::PPOPolicyLossOp::create(
      b, named("loss"), scalar, scalar, scalar, logprobs, entry.getArgument(3),
      entry.getArgument(4), entry.getArgument(1),
      ppoParam(params, LLAMA_ABI_PPO_CLIP_RANGE, "clip_range"));
  func::ReturnOp::create(b, loc, loss.getResults());
  return func;
}

/// x [batch, seq, dim] -> values [batch, seq]: the final norm and the
/// reward model's scalar head at every position.
Value EntryPointBuilder::valueHead(Value x) {
  auto shape = cast<RankedTensorType>(x.getType()).getShape();
  x = rmsNorm(x, weights.lookup(kFinalNormWeight), "final_norm");
  Value values = linear(x, weights.lookup(kScoreWeight),
                        "score"); // [batch, seq, 1]
  return tensor::CollapseShapeOp::create(
      b, named("values"), RankedTensorType::get({shape[0], shape[1]}, f32),
      values, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
}

func::FuncOp EntryPointBuilder::buildValues(StringRef name,
                                            const TrainShape &shape) {
  SmallVector<Type> inputs = ppoLossInputs(shape);
  func::FuncOp func =
      declare(name, {inputs[0]}, {{"tokens", llama::input::kTokens}},
              {{inputs[1], llama::output::kValues}},
              /*withCaches=*/false);
  Block &entry = func.getBody().front();
  Value tokens = shiftTokens(entry.getArgument(0), shape).first;
  func::ReturnOp::create(b, loc, valueHead(decoder(tokens, buildLayer(func))));
  return func;
}

func::FuncOp EntryPointBuilder::buildValueLoss(StringRef name,
                                               const TrainShape &shape) {
  Type scalar = RankedTensorType::get({}, f32);
  func::FuncOp func = declare(
      name, ppoLossInputs(shape),
      {{"tokens", llama::input::kTokens},
       {"loss_mask", llama::input::kLossMask},
       {"ppo_params", llama::input::kPPOParams},
       {"old_values", llama::input::kOldValues},
       {"returns", llama::input::kReturns}},
      {{scalar, llama::output::kLoss}, {scalar, llama::output::kClipFraction}},
      /*withCaches=*/false);
  Block &entry = func.getBody().front();
  Value tokens = shiftTokens(entry.getArgument(0), shape).first;
  Value values = valueHead(decoder(tokens, buildLayer(func)));
  auto loss = llama::PPOValueLossOp::create(
      b, named("loss"), scalar, scalar, values, entry.getArgument(3),
      entry.getArgument(4), entry.getArgument(1),
      ppoParam(entry.getArgument(2), LLAMA_ABI_PPO_VALUE_CLIP_RANGE,
               "value_clip_range"));
  func::ReturnOp::create(b, loc, loss.getResults());
  return func;
}

Value EntryPointBuilder::rewards(func::FuncOp entry, Value tokens, Value ends) {
  auto shape = cast<RankedTensorType>(tokens.getType()).getShape();
  int64_t rows = shape[0];
  startBlock(shape, tokens);
  Value x = decoder(tokens, buildLayer(entry)); // [rows, seq, dim]
  // Only each sequence's last real token is normed and scored; padding after
  // it cannot reach that row through causal attention.
  Value last = llama::GatherRowsOp::create(
      b, named("last_token"), RankedTensorType::get({rows, config.dim}, f32), x,
      ends); // [rows, dim]
  last = rmsNorm(last, weights.lookup(kFinalNormWeight), "final_norm");
  Value scores =
      linear(last, weights.lookup(kScoreWeight), "score"); // [rows, 1]
  return tensor::CollapseShapeOp::create(
      b, named("rewards"), RankedTensorType::get({rows}, f32), scores,
      ArrayRef<ReassociationIndices>{{0, 1}}); // [rows]
}

func::FuncOp EntryPointBuilder::buildScore(StringRef name, int64_t rows,
                                           int64_t seq) {
  auto rewardsType = RankedTensorType::get({rows}, f32);
  func::FuncOp func =
      declare(name,
              {RankedTensorType::get({rows, seq}, b.getI32Type()),
               RankedTensorType::get({rows}, b.getI32Type())},
              {{"tokens", llama::input::kTokens},
               {"ends", llama::input::kSequenceEnds}},
              {{rewardsType, llama::output::kRewards}}, /*withCaches=*/false);
  Block &entry = func.getBody().front();
  func::ReturnOp::create(
      b, loc, rewards(func, entry.getArgument(0), entry.getArgument(1)));
  return func;
}

func::FuncOp EntryPointBuilder::buildRewardLoss(StringRef name,
                                                const RewardShape &shape) {
  int64_t rows = 2 * shape.pairs;
  func::FuncOp func =
      declare(name,
              {RankedTensorType::get({rows, shape.seq}, b.getI32Type()),
               RankedTensorType::get({rows}, b.getI32Type()),
               RankedTensorType::get({shape.pairs}, f32)},
              {{"tokens", llama::input::kTokens},
               {"ends", llama::input::kSequenceEnds},
               {"margins", llama::input::kMargins}},
              {{RankedTensorType::get({}, f32), llama::output::kLoss}},
              /*withCaches=*/false);
  Block &entry = func.getBody().front();
  Value scores = rewards(func, entry.getArgument(0), entry.getArgument(1));
  Value loss = llama::RankingLossOp::create(
      b, named("loss"), RankedTensorType::get({}, f32), scores,
      entry.getArgument(2), b.getF64FloatAttr(shape.center));
  func::ReturnOp::create(b, loc, loss);
  return func;
}

/// The config as the module's llama.config, keyed as the artifact manifest.
DictionaryAttr configAttr(Builder &b, const ModelConfig &config) {
  auto i64 = [&](int64_t value) { return b.getI64IntegerAttr(value); };
  return b.getDictionaryAttr({
      b.getNamedAttr(LLAMA_ABI_KEY_DIM, i64(config.dim)),
      b.getNamedAttr(LLAMA_ABI_KEY_HIDDEN_DIM, i64(config.hiddenDim)),
      b.getNamedAttr(LLAMA_ABI_KEY_N_LAYERS, i64(config.nLayers)),
      b.getNamedAttr(LLAMA_ABI_KEY_N_HEADS, i64(config.nHeads)),
      b.getNamedAttr(LLAMA_ABI_KEY_N_KV_HEADS, i64(config.nKvHeads)),
      b.getNamedAttr(LLAMA_ABI_KEY_HEAD_DIM, i64(config.headDim())),
      b.getNamedAttr(LLAMA_ABI_KEY_VOCAB_SIZE, i64(config.vocabSize)),
      b.getNamedAttr(LLAMA_ABI_KEY_SEQ_LEN, i64(config.seqLen)),
      b.getNamedAttr(LLAMA_ABI_KEY_NORM_EPS, b.getF64FloatAttr(config.normEps)),
      b.getNamedAttr(LLAMA_ABI_KEY_ROPE_THETA,
                     b.getF64FloatAttr(config.ropeTheta)),
      b.getNamedAttr(LLAMA_ABI_KEY_TIE_EMBEDDINGS,
                     b.getBoolAttr(config.tieEmbeddings)),
  });
}

} // namespace

void loadModelDialects(MLIRContext &context) {
  context.loadDialect<llama::LlamaDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
}

/// The MLIR element type of `weights`.
static Type weightElementType(Builder &b, WeightType weights) {
  switch (weights) {
  case WeightType::F32:
    return b.getF32Type();
  case WeightType::BF16:
    return b.getBF16Type();
  case WeightType::F16:
    return b.getF16Type();
  }
  llvm_unreachable("unknown weight type");
}

/// An empty module carrying the config, for the entry points (the dialects
/// they use loaded).
static OwningOpRef<ModuleOp> configuredModule(OpBuilder &b,
                                              const ModelConfig &config,
                                              bool train, WeightType weights) {
  assert((!train || weights == WeightType::F32) &&
         "training updates f32 weights");
  loadModelDialects(*b.getContext());
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  (*module)->setAttr(llama::kConfigAttr, configAttr(b, config));
  return module;
}

/// prefill and decode, at the end of `module`.
static void addInferenceEntries(OpBuilder &b, ModuleOp module,
                                const ModelConfig &config, Type weightType) {
  for (auto [name, seq] :
       {std::pair<StringRef, int64_t>{LLAMA_ABI_ENTRY_PREFILL, kDynamic},
        {LLAMA_ABI_ENTRY_DECODE, 1}}) {
    b.setInsertionPointToEnd(module.getBody());
    EntryPointBuilder(b, config, weightType).buildInference(name, seq);
  }
}

OwningOpRef<ModuleOp> buildModelModule(MLIRContext &context,
                                       const ModelConfig &config,
                                       std::optional<TrainShape> train,
                                       WeightType weights) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module =
      configuredModule(b, config, bool(train), weights);
  Type weightType = weightElementType(b, weights);
  addInferenceEntries(b, *module, config, weightType);
  if (train) {
    b.setInsertionPointToEnd(module->getBody());
    EntryPointBuilder(b, config, weightType)
        .buildTrainLoss("train_loss", train->batch, train->seq);
  }
  return module;
}

OwningOpRef<ModuleOp> buildRewardModule(MLIRContext &context,
                                        const ModelConfig &config,
                                        const RewardShape &shape, bool train,
                                        WeightType weights) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module =
      configuredModule(b, config, bool(train), weights);
  Type weightType = weightElementType(b, weights);
  b.setInsertionPointToEnd(module->getBody());
  EntryPointBuilder(b, config, weightType, Head::Score)
      .buildScore("score", 2 * shape.pairs, shape.seq);
  if (train) {
    b.setInsertionPointToEnd(module->getBody());
    EntryPointBuilder(b, config, weightType, Head::Score)
        .buildRewardLoss("reward_loss", shape);
  }
  return module;
}

OwningOpRef<ModuleOp> buildPPOModule(MLIRContext &context,
                                     const ModelConfig &config,
                                     const TrainShape &shape, PPOModel model) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module =
      configuredModule(b, config, /*train=*/true, WeightType::F32);
  Type f32 = b.getF32Type();
  auto entry = [&](Head head) {
    b.setInsertionPointToEnd(module->getBody());
    return EntryPointBuilder(b, config, f32, head);
  };
  if (model == PPOModel::Policy) {
    addInferenceEntries(b, *module, config, f32);
    entry(Head::LanguageModel).buildLogprobs("logprobs", shape);
    entry(Head::LanguageModel).buildPolicyLoss("policy_loss", shape);
  } else {
    entry(Head::Score).buildValues("values", shape);
    entry(Head::Score).buildValueLoss("value_loss", shape);
  }
  return module;
}

} // namespace llamac
