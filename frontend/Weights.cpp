//===- Weights.cpp - the tensors a Llama checkpoint holds -----------------===//

#include "frontend/Weights.h"

#include "llvm/ADT/Twine.h"

namespace llamac {

const char *const kEmbeddingWeight = "model.embed_tokens.weight";
const char *const kFinalNormWeight = "model.norm.weight";
const char *const kLmHeadWeight = "lm_head.weight";

std::string layerWeightName(int64_t layer, llvm::StringRef module) {
  return ("model.layers." + llvm::Twine(layer) + "." + module + ".weight")
      .str();
}

std::vector<TensorSpec> weightSpecs(const ModelConfig &config) {
  const int64_t dim = config.dim, hidden = config.hiddenDim;
  const int64_t qDim = config.nHeads * config.headDim();    // q_proj rows
  const int64_t kvDim = config.nKvHeads * config.headDim(); // k/v_proj rows

  std::vector<TensorSpec> specs = {{kEmbeddingWeight, {config.vocabSize, dim}}};
  for (int64_t layer = 0; layer < config.nLayers; ++layer) {
    auto add = [&](llvm::StringRef module, std::vector<int64_t> shape) {
      specs.push_back({layerWeightName(layer, module), std::move(shape)});
    };
    add("input_layernorm", {dim});
    add("self_attn.q_proj", {qDim, dim});
    add("self_attn.k_proj", {kvDim, dim});
    add("self_attn.v_proj", {kvDim, dim});
    add("self_attn.o_proj", {dim, qDim});
    add("post_attention_layernorm", {dim});
    add("mlp.gate_proj", {hidden, dim});
    add("mlp.up_proj", {hidden, dim});
    add("mlp.down_proj", {dim, hidden});
  }
  specs.push_back({kFinalNormWeight, {dim}});
  if (!config.tieEmbeddings)
    specs.push_back({kLmHeadWeight, {config.vocabSize, dim}});
  return specs;
}

} // namespace llamac
