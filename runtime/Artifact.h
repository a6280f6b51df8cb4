//===- Artifact.h - a compiled model library --------------------*- C++ -*-===//
//
// Loads a library made by `llamac -o` and reads its manifest: the model
// config, the weights it expects (HF names, shapes), its KV caches and the
// C entry points
//   void llama_<name>(const int32_t *tokens, int64_t n_tokens,
//                     int64_t position, float *const *weights,
//                     float *const *kv_caches, float *logits);
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_ARTIFACT_H
#define LLAMAC_RUNTIME_ARTIFACT_H

#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

struct ModelShape {
  int64_t dim = 0, hiddenDim = 0, nLayers = 0, nHeads = 0, nKvHeads = 0,
          headDim = 0, vocabSize = 0, seqLen = 0;
  double normEps = 0, ropeTheta = 0;
  bool tieEmbeddings = false;
};

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numElements() const;
};

using EntryPoint = void (*)(const int32_t *tokens, int64_t numTokens,
                            int64_t position, float *const *weights,
                            float *const *kvCaches, float *logits);

/// llamac --train: one optimizer step on tokens [batch, seq + 1] and
/// loss_mask [batch, seq], updating weights and Adam moments in place.
using TrainStepFn = void (*)(const int32_t *tokens, const float *lossMask,
                             const float *stepParams /* [lr, step] */,
                             float *const *weights, float *const *adamM,
                             float *const *adamV, float *loss, float *gradNorm);

/// llamac --train: the loss and each weight's gradient (before clipping).
using TrainGradFn = void (*)(const int32_t *tokens, const float *lossMask,
                             float *const *weights, float *const *gradients,
                             float *loss);

struct TrainGradEntry {
  TrainGradFn fn = nullptr;
};

struct TrainStepEntry {
  TrainStepFn fn = nullptr;
  int64_t batch = 0, seq = 0;
};

class Artifact {
public:
  /// Loads the library; throws RuntimeError if it is not a llamac artifact.
  explicit Artifact(const std::string &path);
  /// A model linked into this executable (llamac --emit=exe).
  Artifact(const char *manifest, EntryPoint prefill, EntryPoint decode);
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  const ModelShape &shape() const { return model; }
  const std::vector<TensorSpec> &weights() const { return weightSpecs; }
  const std::vector<TensorSpec> &kvCaches() const { return cacheSpecs; }
  const std::string &compiler() const { return compilerVersion; }
  EntryPoint prefill() const { return prefillFn; }
  EntryPoint decode() const { return decodeFn; }
  /// The training step, when compiled with --train (fn null otherwise).
  const TrainStepEntry &trainStep() const { return train; }
  const TrainGradEntry &trainGrad() const { return grad; }

private:
  void readManifest(const char *manifest, const std::string &where);

  void *handle = nullptr;
  ModelShape model;
  std::vector<TensorSpec> weightSpecs, cacheSpecs;
  std::string compilerVersion;
  EntryPoint prefillFn = nullptr, decodeFn = nullptr;
  TrainStepEntry train;
  TrainGradEntry grad;
  std::string trainSymbol, gradSymbol;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_ARTIFACT_H
