//===- ModelConfig.h - a model's shapes, for compiler and runtime -*- C++
//-*-===//
//
// The hyper-parameters that fix a Llama 2 model's shapes, and a named tensor
// shape: one definition for the frontend (which reads them from config files)
// and the runtime (which reads them from an artifact's manifest). No
// dependencies, like llama_abi.h.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_MODELCONFIG_H
#define LLAMAC_RUNTIME_MODELCONFIG_H

#include <cstdint>
#include <string>
#include <vector>

namespace llama_abi {

/// Shapes and constants of a Llama 2 model, in llama2.c's vocabulary.
struct ModelConfig {
  int64_t dim = 0;            // hidden size (HF hidden_size)
  int64_t hiddenDim = 0;      // feed-forward size (HF intermediate_size)
  int64_t nLayers = 0;        // decoder layers
  int64_t nHeads = 0;         // query heads
  int64_t nKvHeads = 0;       // key/value heads (== nHeads: MHA, 1: MQA)
  int64_t vocabSize = 0;      // embedding rows and logits
  int64_t seqLen = 0;         // maximum sequence length: the KV cache rows
  double normEps = 1e-5;      // RMSNorm epsilon
  double ropeTheta = 1e4;     // RoPE base
  bool tieEmbeddings = false; // lm_head shares model.embed_tokens.weight

  int64_t headDim() const { return dim / nHeads; }
};

/// The number of elements of a tensor of this shape.
inline int64_t elementCount(const std::vector<int64_t> &shape) {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

/// A tensor by name (HF names for weights) and shape.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numElements() const { return elementCount(shape); }
};

} // namespace llama_abi

#endif // LLAMAC_RUNTIME_MODELCONFIG_H
