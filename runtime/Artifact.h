//===- Artifact.h - a compiled model library --------------------*- C++ -*-===//
//
// Loads a library made by `llamac -o` (or the model linked into an
// executable by `llamac --emit=exe`), reads its manifest — the model config,
// the weights it expects (HF names, shapes), its KV caches and its entry
// points — and binds each entry point through the symbol the manifest names.
// The contract is runtime/llama_abi.h.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_ARTIFACT_H
#define LLAMAC_RUNTIME_ARTIFACT_H

#include "runtime/DType.h"
#include "runtime/ModelConfig.h"
#include "runtime/llama_abi.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

using llama_abi::ModelConfig;
using llama_abi::TensorSpec;

/// One entry of the manifest's entry_points.
struct EntryPointInfo {
  std::string name, symbol, kind;
  int64_t batch = 0, seq = 0; // training entry points: the compiled block
};

/// What an artifact's manifest says.
struct Manifest {
  ModelConfig config;
  std::vector<TensorSpec> weights, kvCaches;
  DType weightType = DType::F32; // what the weights are passed as
  bool onGPU = false; // an NVIDIA GPU's: its entry points take device memory
  std::vector<EntryPointInfo> entryPoints;
  std::string compiler;

  /// The entry point of this name or kind (null if there is none).
  const EntryPointInfo *findByName(const std::string &name) const;
  const EntryPointInfo *findByKind(const std::string &kind) const;
};

/// Parses and validates a manifest; `where` names its artifact in errors.
/// Throws RuntimeError for anything but a well-formed manifest of this
/// runtime's LLAMA_ABI_VERSION.
Manifest parseManifest(const char *json, const std::string &where);

struct TrainLossEntry {
  llama_train_loss_fn fn = nullptr;
};

struct TrainGradEntry {
  llama_train_grad_fn fn = nullptr;
};

struct TrainStepEntry {
  llama_train_step_fn fn = nullptr;
  int64_t batch = 0, seq = 0;
};

/// A reward model's entry points: scores of `rows` sequences of `seq`
/// tokens, and the ranking-loss training step over rows / 2 pairs of them.
struct RewardEntries {
  llama_score_fn score = nullptr;
  llama_reward_step_fn step = nullptr;
  int64_t rows = 0, seq = 0;
  int64_t pairs() const { return rows / 2; }
};

/// PPO's entry points (llamac --ppo), over blocks of `batch` rows of
/// seq + 1 tokens: the policy's (with prefill and decode) or the value
/// model's.
struct PPOEntries {
  llama_logprobs_fn logprobs = nullptr;
  llama_policy_step_fn policyStep = nullptr;
  llama_values_fn values = nullptr;
  llama_value_step_fn valueStep = nullptr;
  int64_t batch = 0, seq = 0;
};

class Artifact {
public:
  /// Loads the library at `path`, or with an empty path the model linked
  /// into this executable; throws RuntimeError if it is not a llamac
  /// artifact or lacks a symbol its manifest names.
  explicit Artifact(const std::string &path);
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  const ModelConfig &shape() const { return manifest.config; }
  const std::vector<TensorSpec> &weights() const { return manifest.weights; }
  const std::vector<TensorSpec> &kvCaches() const { return manifest.kvCaches; }
  /// The element type the entry points take the weights in.
  DType weightType() const { return manifest.weightType; }
  /// Whether its entry points run on an NVIDIA GPU (and take device memory).
  bool onGPU() const { return manifest.onGPU; }
  const std::string &compiler() const { return manifest.compiler; }
  /// Runs the generated code's parallel loops on `threads` threads (default:
  /// all cores); a GPU artifact's host code has none. Throws if the
  /// artifact cannot.
  void setThreads(int64_t threads) const;
  /// Where the artifact came from, for messages.
  const std::string &description() const { return where; }
  /// A reward model (llamac --reward) scores; it has no prefill and decode.
  bool isRewardModel() const { return reward.score != nullptr; }
  const RewardEntries &rewardEntries() const { return reward; }
  /// A PPO value model (llamac --ppo value) scores every position; it has
  /// no prefill and decode either.
  bool isValueModel() const { return ppo.values != nullptr; }
  /// A PPO policy (llamac --ppo policy) also generates.
  bool isPPOPolicy() const { return ppo.policyStep != nullptr; }
  const PPOEntries &ppoEntries() const { return ppo; }
  /// Null for a reward or value model.
  llama_inference_fn prefill() const { return prefillFn; }
  llama_inference_fn decode() const { return decodeFn; }
  /// The training step, when compiled with --train (fn null otherwise).
  const TrainStepEntry &trainStep() const { return train; }
  const TrainGradEntry &trainGrad() const { return grad; }
  /// The loss alone (validation), when compiled with --train.
  const TrainLossEntry &trainLoss() const { return loss; }

private:
  /// The address of an entry point's symbol; throws if it is missing.
  void *lookup(const EntryPointInfo &entry) const;

  std::string where; // the artifact, for messages
  void *handle = nullptr;
  Manifest manifest;
  llama_inference_fn prefillFn = nullptr, decodeFn = nullptr;
  TrainStepEntry train;
  TrainGradEntry grad;
  TrainLossEntry loss;
  RewardEntries reward;
  PPOEntries ppo;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_ARTIFACT_H
