//===- Weights.cpp - the tensors a Llama checkpoint holds -----------------===//

#include "frontend/Weights.h"

#include "runtime/llama_abi.h"

#include "llvm/ADT/Twine.h"

namespace llamac {

const char *const kEmbeddingWeight = "model.embed_tokens.weight";
const char *const kFinalNormWeight = "model.norm.weight";
const char *const kLmHeadWeight = "lm_head.weight";
const char *const kScoreWeight = LLAMA_ABI_SCORE_WEIGHT;

std::string layerWeightName(int64_t layer, llvm::StringRef module) {
  return ("model.layers." + llvm::Twine(layer) + "." + module + ".weight")
      .str();
}

std::vector<TensorSpec> layerWeightSpecs(const ModelConfig &config) {
  const int64_t dim = config.dim, hidden = config.hiddenDim;
  const int64_t qDim = config.nHeads * config.headDim();    // q_proj rows
  const int64_t kvDim = config.nKvHeads * config.headDim(); // k/v_proj rows
  return {
      {"input_layernorm", {dim}},         {"self_attn.q_proj", {qDim, dim}},
      {"self_attn.k_proj", {kvDim, dim}}, {"self_attn.v_proj", {kvDim, dim}},
      {"self_attn.o_proj", {dim, qDim}},  {"post_attention_layernorm", {dim}},
      {"mlp.gate_proj", {hidden, dim}},   {"mlp.up_proj", {hidden, dim}},
      {"mlp.down_proj", {dim, hidden}}};
}

std::vector<TensorSpec> weightSpecs(const ModelConfig &config, Head head) {
  std::vector<TensorSpec> specs = {
      {kEmbeddingWeight, {config.vocabSize, config.dim}}};
  std::vector<TensorSpec> layer = layerWeightSpecs(config);
  for (int64_t index = 0; index < config.nLayers; ++index)
    for (const TensorSpec &spec : layer)
      specs.push_back({layerWeightName(index, spec.name), spec.shape});
  specs.push_back({kFinalNormWeight, {config.dim}});
  if (head == Head::Score)
    specs.push_back({kScoreWeight, {1, config.dim}});
  else if (!config.tieEmbeddings)
    specs.push_back({kLmHeadWeight, {config.vocabSize, config.dim}});
  return specs;
}

} // namespace llamac
