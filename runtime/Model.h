//===- Model.h - a compiled model with its weights and KV cache -*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_MODEL_H
#define LLAMAC_RUNTIME_MODEL_H

#include "runtime/Artifact.h"
#include "runtime/SafeTensors.h"

#include <memory>
#include <vector>

namespace llamart {

/// The checkpoint's tensor for each weight of the artifact, in manifest
/// order, after checking every name and shape (and that the checkpoint holds
/// nothing else). Throws RuntimeError naming the file and tensor.
std::vector<const TensorView *> matchWeights(const Artifact &artifact,
                                             const SafeTensors &checkpoint);

/// Binds a checkpoint to an artifact (checking every name, shape and dtype
/// against the manifest) and runs it, keeping the KV cache and position.
class Model {
public:
  Model(const Artifact &artifact, const SafeTensors &checkpoint);

  const ModelConfig &shape() const { return artifact.shape(); }
  int64_t position() const { return pos; }

  /// Runs `tokens` from the current position; returns the logits of the last
  /// one [vocab_size], or with `allRows` of each [tokens.size(), vocab_size]
  /// row-major. Throws on an empty prompt, an id outside the vocabulary or
  /// running past the maximum sequence length.
  std::vector<float> prefill(const std::vector<int32_t> &tokens,
                             bool allRows = false);
  /// One token; returns its logits [vocab_size].
  std::vector<float> decode(int32_t token);

private:
  void check(const std::vector<int32_t> &tokens) const;

  const Artifact &artifact;
  std::vector<std::vector<uint8_t>> converted; // weights that needed a copy
  std::vector<const void *> weightPointers;    // manifest order, weightType
  std::vector<std::vector<float>> caches; // [seq_len, n_kv_heads, head_dim]
  std::vector<float *> cachePointers;
  int64_t pos = 0;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_MODEL_H
