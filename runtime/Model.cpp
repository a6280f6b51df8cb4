//===- Model.cpp - a compiled model with its weights and KV cache ---------===//

#include "runtime/Model.h"

#include "runtime/cuda/Device.h"

#include "runtime/Error.h"

#include <cstdint>
#include <set>

namespace llamart {
namespace {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// Tensors some checkpoints carry that the model recomputes.
bool isIgnorable(const std::string &name) {
  const std::string suffix = "rotary_emb.inv_freq";
  return name.size() >= suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

std::vector<const TensorView *> matchWeights(const Artifact &artifact,
                                             const SafeTensors &checkpoint) {
  std::vector<const TensorView *> matched;
  std::set<std::string> expected;
  for (const TensorSpec &spec : artifact.weights()) {
    expected.insert(spec.name);
    const TensorView *tensor = checkpoint.find(spec.name);
    if (!tensor)
      throw RuntimeError("weights: missing tensor '" + spec.name + "' " +
                         shapeString(spec.shape));
    if (tensor->shape != spec.shape)
      throw RuntimeError(
          tensor->file + ": tensor '" + spec.name + "' has shape " +
          shapeString(tensor->shape) + " but the artifact expects " +
          shapeString(spec.shape) + " (weights for another config?)");
    matched.push_back(tensor);
  }
  for (const auto &[name, tensor] : checkpoint.tensors())
    if (!expected.count(name) && !isIgnorable(name))
      throw RuntimeError(tensor.file + ": unexpected tensor '" + name +
                         "' (weights for another config?)");
  return matched;
}

BoundWeights::BoundWeights(const Artifact &artifact,
                           const SafeTensors &checkpoint) {
  const DType type = artifact.weightType();
  for (const TensorView *tensor : matchWeights(artifact, checkpoint)) {
    // Weights stored as the artifact takes them, aligned for its loads, are
    // used in place from the mapped file; anything else is converted once,
    // here.
    if (tensor->dtype == type &&
        reinterpret_cast<uintptr_t>(tensor->data) % dtypeSize(type) == 0) {
      weightPointers.push_back(tensor->data);
      continue;
    }
    converted.emplace_back(size_t(tensor->numElements()) * dtypeSize(type));
    convertDType(tensor->dtype, tensor->data, type, converted.back().data(),
                 tensor->numElements());
    weightPointers.push_back(converted.back().data());
  }
}

/// The artifact, once checked to be one that generates.
static const Artifact &generator(const Artifact &artifact) {
  if (artifact.isRewardModel())
    throw RuntimeError("'" + artifact.description() +
                       "' is a reward model (llamac --reward): it scores "
                       "sequences and cannot generate; use llama-reward score");
  if (artifact.isValueModel())
    throw RuntimeError("'" + artifact.description() +
                       "' is a PPO value model (llamac --ppo value): it "
                       "values positions and cannot generate");
  return artifact;
}

/// A GPU artifact's memory: the weights uploaded once, the caches, and the
/// tokens and logits of one call. The entry points read the pointer arrays
/// on the host and the buffers on the device.
struct Model::DeviceState {
  std::vector<cuda::DeviceBuffer> weights, caches;
  std::vector<const void *> weightPointers;
  std::vector<float *> cachePointers;
  cuda::DeviceBuffer tokens, logits; // [seq_len] i32, [seq_len, vocab] f32

  DeviceState(const Artifact &artifact, const void *const *hostWeights)
      : tokens(artifact.shape().seqLen * sizeof(int32_t)),
        logits(artifact.shape().seqLen * artifact.shape().vocabSize *
               sizeof(float)) {
    size_t elementBytes = dtypeSize(artifact.weightType());
    const std::vector<TensorSpec> &specs = artifact.weights();
    for (size_t i = 0; i < specs.size(); ++i) {
      size_t bytes = specs[i].numElements() * elementBytes;
      weights.emplace_back(bytes);
      weights.back().upload(hostWeights[i], bytes);
      weightPointers.push_back(weights.back().data());
    }
    for (const TensorSpec &spec : artifact.kvCaches()) {
      caches.emplace_back(spec.numElements() * sizeof(float));
      caches.back().zero();
      cachePointers.push_back(static_cast<float *>(caches.back().data()));
    }
  }
};

Model::Model(const Artifact &artifact, const SafeTensors &checkpoint)
    : artifact(generator(artifact)), bound(std::in_place, artifact, checkpoint),
      weights(bound->pointers()) {
  if (artifact.onGPU()) {
    cuda::requireDevice(artifact.description());
    device = std::make_unique<DeviceState>(artifact, weights);
  } else {
    allocateCaches();
  }
}

Model::~Model() = default;

Model::Model(const Artifact &artifact, const void *const *weights)
    : artifact(generator(artifact)), weights(weights) {
  if (artifact.onGPU()) // a trainer's weights, updated between calls
    throw RuntimeError("'" + artifact.description() +
                       "' runs on an NVIDIA GPU, which trains nothing yet");
  allocateCaches();
}

void Model::allocateCaches() {
  for (const TensorSpec &spec : artifact.kvCaches()) {
    caches.emplace_back(spec.numElements(), 0.0f);
    cachePointers.push_back(caches.back().data());
  }
}

void Model::check(const std::vector<int32_t> &tokens) const {
  if (tokens.empty())
    throw RuntimeError("the prompt is empty");
  const ModelConfig &s = shape();
  for (int32_t token : tokens)
    if (token < 0 || token >= s.vocabSize)
      throw RuntimeError("token id " + std::to_string(token) +
                         " is outside the vocabulary [0, " +
                         std::to_string(s.vocabSize) + ")");
  if (pos + int64_t(tokens.size()) > s.seqLen)
    throw RuntimeError(
        "the sequence would reach " + std::to_string(pos + tokens.size()) +
        " tokens, more than the artifact's maximum of " +
        std::to_string(s.seqLen) + " (recompile with llamac --max-seq-len)");
}

std::vector<float> Model::prefill(const std::vector<int32_t> &tokens,
                                  bool allRows) {
  check(tokens);
  int64_t rows = allRows ? int64_t(tokens.size()) : 1;
  std::vector<float> logits(rows * shape().vocabSize);
  run(artifact.prefill(), LLAMA_ABI_ENTRY_PREFILL, tokens, rows, logits);
  pos += int64_t(tokens.size());
  return logits;
}

std::vector<float> Model::decode(int32_t token) {
  std::vector<int32_t> tokens = {token};
  check(tokens);
  std::vector<float> logits(shape().vocabSize);
  run(artifact.decode(), LLAMA_ABI_ENTRY_DECODE, tokens, 1, logits);
  pos += 1;
  return logits;
}

void Model::run(llama_inference_fn entry, const char *name,
                const std::vector<int32_t> &tokens, int64_t rows,
                std::vector<float> &logits) {
  auto count = int64_t(tokens.size());
  if (!device) {
    entry(tokens.data(), count, pos, rows, weights, cachePointers.data(),
          logits.data());
    return;
  }
  device->tokens.upload(tokens.data(), tokens.size() * sizeof(int32_t));
  entry(static_cast<const int32_t *>(device->tokens.data()), count, pos, rows,
        device->weightPointers.data(), device->cachePointers.data(),
        static_cast<float *>(device->logits.data()));
  cuda::finishLaunches(artifact.description() + " " + name);
  device->logits.download(logits.data(), logits.size() * sizeof(float));
}

void Model::rewind(int64_t position) {
  if (position < 0 || position > pos)
    throw RuntimeError("cannot rewind to position " + std::to_string(position) +
                       " from " + std::to_string(pos));
  pos = position;
}

} // namespace llamart
