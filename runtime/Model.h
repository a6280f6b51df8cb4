//===- Model.h - a compiled model with its weights and KV cache -*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_MODEL_H
#define LLAMAC_RUNTIME_MODEL_H

#include "runtime/Artifact.h"
#include "runtime/SafeTensors.h"

#include <memory>
#include <optional>
#include <vector>

namespace llamart {

/// The checkpoint's tensor for each weight of the artifact, in manifest
/// order, after checking every name and shape (and that the checkpoint holds
/// nothing else). Throws RuntimeError naming the file and tensor.
std::vector<const TensorView *> matchWeights(const Artifact &artifact,
                                             const SafeTensors &checkpoint);

/// A checkpoint's weights as an artifact's entry points take them (checking
/// every name and shape against the manifest): used in place from the
/// mapped file where stored as the artifact takes them, converted once
/// otherwise. The checkpoint must outlive it.
class BoundWeights {
public:
  BoundWeights(const Artifact &artifact, const SafeTensors &checkpoint);
  /// One pointer per weight, manifest order, of the artifact's weightType.
  const void *const *pointers() const { return weightPointers.data(); }

private:
  std::vector<std::vector<uint8_t>> converted; // weights that needed a copy
  std::vector<const void *> weightPointers;
};

/// Binds a checkpoint to an artifact and runs it, keeping the KV cache and
/// position.
class Model {
public:
  /// Throws RuntimeError for a reward or value model, which cannot
  /// generate.
  Model(const Artifact &artifact, const SafeTensors &checkpoint);
  /// Runs with weights kept elsewhere (one pointer per weight, manifest
  /// order, of the artifact's weightType), read at each call: a trainer's,
  /// updated in place between calls. They must outlive the model.
  Model(const Artifact &artifact, const void *const *weights);

  ~Model();
  Model(Model &&) = default;

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
  /// Continues from `position` (at most the current one): the cache rows
  /// before it stay valid, later ones are overwritten. rewind(0) starts a new
  /// sequence.
  void rewind(int64_t position);

private:
  void check(const std::vector<int32_t> &tokens) const;

  void allocateCaches();
  /// Runs an inference entry point on `tokens` into `logits` [rows, vocab]:
  /// on the host's memory, or through the device's for a GPU artifact.
  void run(llama_inference_fn entry, const char *name,
           const std::vector<int32_t> &tokens, int64_t rows,
           std::vector<float> &logits);

  struct DeviceState; // a GPU artifact's buffers (Model.cpp)

  const Artifact &artifact;
  std::optional<BoundWeights> bound; // a checkpoint's, when given one
  const void *const *weights;
  std::vector<std::vector<float>> caches; // [seq_len, n_kv_heads, head_dim]
  std::vector<float *> cachePointers;
  std::unique_ptr<DeviceState> device; // GPU artifacts only
  int64_t pos = 0;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_MODEL_H
