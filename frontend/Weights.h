//===- Weights.h - the tensors a Llama checkpoint holds ---------*- C++ -*-===//
//
// The weights of a model config, in Hugging Face names and [out, in] shapes,
// in the order the forward pass reads them. The compiled entry points take
// them as arguments in this order, and the runtime loads them by these names.
//
//===----------------------------------------------------------------------===//

#ifndef LLAMAC_FRONTEND_WEIGHTS_H
#define LLAMAC_FRONTEND_WEIGHTS_H

#include "frontend/ModelConfig.h"

#include <string>
#include <vector>

namespace llamac {

using llama_abi::TensorSpec;

/// "model.layers.{layer}.{module}.weight", e.g. module "self_attn.q_proj".
std::string layerWeightName(int64_t layer, llvm::StringRef module);

extern const char *const kEmbeddingWeight; // model.embed_tokens.weight
extern const char *const kFinalNormWeight; // model.norm.weight
extern const char *const kLmHeadWeight;    // lm_head.weight (untied models)
extern const char *const kScoreWeight;     // score.weight (reward models)

/// What sits on top of the decoder: the LM head (next-token logits), or the
/// reward model's scalar head, `score.weight` [1, dim] as in HF's
/// LlamaForSequenceClassification with num_labels 1.
enum class Head { LanguageModel, Score };

/// The weights of one decoder layer, named by module ("self_attn.q_proj"),
/// in forward order: input_layernorm, q/k/v/o_proj, post_attention_layernorm,
/// gate/up/down_proj. Every layer has the same.
std::vector<TensorSpec> layerWeightSpecs(const ModelConfig &config);

/// Every weight of the model, in forward order: the embedding, per layer
/// input_layernorm, q/k/v/o_proj, post_attention_layernorm, gate/up/down_proj,
/// then the final norm and (unless tied) lm_head, or score for a reward model.
std::vector<TensorSpec> weightSpecs(const ModelConfig &config,
                                    Head head = Head::LanguageModel);

} // namespace llamac

#endif // LLAMAC_FRONTEND_WEIGHTS_H
