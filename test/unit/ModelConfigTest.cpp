//===- ModelConfigTest.cpp - model descriptions and their weights ---------===//

#include "frontend/ModelConfig.h"
#include "frontend/Weights.h"

#include <gtest/gtest.h>

using namespace llamac;

namespace {

ModelConfig loadOrFail(llvm::StringRef name) {
  llvm::Expected<ModelConfig> config = loadModelConfig(name);
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return {};
  }
  return *config;
}

void expectSameShape(const ModelConfig &a, const ModelConfig &b) {
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.hiddenDim, b.hiddenDim);
  EXPECT_EQ(a.nLayers, b.nLayers);
  EXPECT_EQ(a.nHeads, b.nHeads);
  EXPECT_EQ(a.nKvHeads, b.nKvHeads);
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.seqLen, b.seqLen);
  EXPECT_DOUBLE_EQ(a.normEps, b.normEps);
  EXPECT_DOUBLE_EQ(a.ropeTheta, b.ropeTheta);
  EXPECT_EQ(a.tieEmbeddings, b.tieEmbeddings);
}

TEST(MetaHiddenDim, MatchesPublishedLlama2Sizes) {
  EXPECT_EQ(metaHiddenDim(4096, 256, 0), 11008);    // 7B
  EXPECT_EQ(metaHiddenDim(5120, 256, 0), 13824);    // 13B
  EXPECT_EQ(metaHiddenDim(8192, 4096, 1.3), 28672); // 70B
  EXPECT_EQ(metaHiddenDim(288, 32, 0), 768);        // llama2.c stories15M
}

TEST(Presets, TinyLlamaMatchesItsConfigJson) {
  // TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T config.json.
  const char *json = R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false,
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 5632,
    "max_position_embeddings": 2048, "model_type": "llama",
    "num_attention_heads": 32, "num_hidden_layers": 22,
    "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": null, "rope_theta": 10000.0, "tie_word_embeddings": false,
    "torch_dtype": "float32", "transformers_version": "4.31.0.dev0",
    "use_cache": true, "vocab_size": 32000})";
  llvm::Expected<ModelConfig> parsed = parseHFConfig(json, "config.json");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  expectSameShape(*parsed, loadOrFail("tinyllama-1.1b"));
}

TEST(Presets, Llama2_70BMatchesItsParamsJson) {
  const char *json = R"({"dim": 8192, "multiple_of": 4096,
    "ffn_dim_multiplier": 1.3, "n_heads": 64, "n_kv_heads": 8,
    "n_layers": 80, "norm_eps": 1e-05, "vocab_size": 32000})";
  llvm::Expected<ModelConfig> parsed = parseMetaParams(json, "params.json");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  expectSameShape(*parsed, loadOrFail("llama2-70b"));
}

TEST(Presets, EveryNameLoads) {
  for (llvm::StringRef name : presetNames())
    EXPECT_GT(loadOrFail(name).dim, 0) << name.str();
}

TEST(HFConfig, OmittedFieldsTakeTransformersDefaults) {
  llvm::Expected<ModelConfig> parsed = parseHFConfig(
      R"({"hidden_size": 64, "intermediate_size": 172,
          "num_hidden_layers": 2, "num_attention_heads": 4,
          "vocab_size": 512, "max_position_embeddings": 128})",
      "config.json");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_EQ(parsed->nKvHeads, 4); // absent = multi-head
  EXPECT_DOUBLE_EQ(parsed->normEps, 1e-6);
  EXPECT_DOUBLE_EQ(parsed->ropeTheta, 10000.0);
  EXPECT_FALSE(parsed->tieEmbeddings);
}

TEST(HFConfig, RopeParametersGiveTheta) {
  llvm::Expected<ModelConfig> parsed = parseHFConfig(
      R"({"hidden_size": 64, "intermediate_size": 172,
          "num_hidden_layers": 2, "num_attention_heads": 4,
          "vocab_size": 512, "max_position_embeddings": 128,
          "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}})",
      "config.json");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_DOUBLE_EQ(parsed->ropeTheta, 1e6);
}

TEST(Weights, Llama2_70BHasGroupedKeyValueProjections) {
  std::vector<TensorSpec> specs = weightSpecs(loadOrFail("llama2-70b"));
  ASSERT_EQ(specs.size(), 1u + 80 * 9 + 2);
  EXPECT_EQ(specs.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(specs[3].name, "model.layers.0.self_attn.k_proj.weight");
  EXPECT_EQ(specs[3].shape, (std::vector<int64_t>{1024, 8192}));
  EXPECT_EQ(specs.back().name, "lm_head.weight");
  EXPECT_EQ(specs.back().shape, (std::vector<int64_t>{32000, 8192}));
}

TEST(Weights, TiedModelHasNoLmHead) {
  std::vector<TensorSpec> specs = weightSpecs(loadOrFail("tiny"));
  EXPECT_EQ(specs.size(), 1u + 2 * 9 + 1);
  EXPECT_EQ(specs.back().name, "model.norm.weight");
}

TEST(Weights, ParameterCountOfLlama2_7B) {
  int64_t total = 0;
  for (const TensorSpec &spec : weightSpecs(loadOrFail("llama2-7b"))) {
    int64_t count = 1;
    for (int64_t size : spec.shape)
      count *= size;
    total += count;
  }
  EXPECT_EQ(total, 6738415616); // as HF reports for Llama-2-7b-hf
}

} // namespace
