//===- Trainer.h - a training run over a compiled train step ----*- C++ -*-===//
//
// The state of a run (weights, Adam moments, steps done), how it starts (HF's
// random initialisation, a checkpoint, or a run to resume), one optimizer
// step through the artifact's llama_train_step, and HF-layout checkpoints.
// llama-train is its command line; the alignment tools train through it too.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_TRAINER_H
#define LLAMAC_RUNTIME_TRAINER_H

#include "runtime/Artifact.h"
#include "runtime/Preferences.h"
#include "runtime/TrainData.h"

#include <cstdint>
#include <string>
#include <vector>

namespace llamart {

/// The weights, Adam moments and steps done of a run, in manifest order.
struct TrainState {
  std::vector<std::vector<float>> weights, adamM, adamV;
  int64_t step = 0;

  /// transformers' LlamaPreTrainedModel._init_weights: matrices normal(0,
  /// 0.02), RMSNorm gains 1; zero moments.
  static TrainState random(const Artifact &artifact, uint64_t seed);
  /// Weights from a safetensors file or HF directory; zero moments.
  static TrainState fromWeights(const Artifact &artifact,
                                const std::string &path);
  /// A reward model's start from a policy checkpoint (HF layout): every
  /// weight but the head from `path` (its lm_head is not used), and a fresh
  /// score head drawn from normal(0, 1 / (dim + 1)) with `seed`, as
  /// OpenRLHF initialises its value heads. A checkpoint that already holds
  /// score.weight (a reward model's) is loaded as it is.
  static TrainState fromPolicy(const Artifact &artifact,
                               const std::string &path, uint64_t seed);
  /// A checkpoint saveCheckpoint wrote: weights, moments and step.
  static TrainState resume(const Artifact &artifact, const std::string &dir);
};

/// What one optimizer step reports.
struct StepStats {
  float loss = 0, gradNorm = 0;         // the norm before clipping
  float clipFraction = 0, approxKl = 0; // PPO's steps only
  double seconds = 0;
};

/// A block of PPO's training data for one step: rows of tokens [batch,
/// seq + 1] (prompt, response, padding), the response positions `mask`, and
/// per position the sampling policy's log-probabilities and the advantages
/// (the policy's step), or the old values and the returns (the value
/// model's); all [batch, seq].
struct PPOBlock {
  std::vector<int32_t> tokens;
  std::vector<float> mask, old, target;
};

/// How the training tools report step `step` of `steps` at learning rate
/// `lr` over `tokens` tokens: "step S/N  loss L  grad_norm G  lr R  T tok/s"
/// on stderr.
void printStep(int64_t step, int64_t steps, const StepStats &stats, float lr,
               double tokens);
/// Its loss.csv fields "step,loss,grad_norm,lr" (no newline).
std::string lossCsvFields(int64_t step, const StepStats &stats, float lr);

class Trainer {
public:
  /// Throws RuntimeError if the artifact has no training step (a language
  /// model's, a reward model's, or one of PPO's).
  Trainer(const Artifact &artifact, TrainState state);

  /// Rows per step, or preference pairs for a reward model.
  int64_t batch() const;
  /// Positions per row.
  int64_t seq() const;
  int64_t stepsDone() const { return state.step; }
  /// The current weights, manifest order (to score with a reward model).
  const void *const *weightPointers() const {
    return reinterpret_cast<const void *const *>(weights.data());
  }

  /// One optimizer step at learning rate `lr` on the batch numbered
  /// stepsDone() (rows wrap around); updates weights and moments in place.
  StepStats step(const TrainRows &data, float lr);
  /// A reward model's step on the pairs numbered stepsDone() * batch() and
  /// on (wrapping around), each with its rating's margin from `margins`.
  StepStats step(const std::vector<PreferencePair> &pairs, MarginSet margins,
                 float lr);
  /// One PPO step of a policy or value model (llamac --ppo) on `block`,
  /// with ppo_params [LLAMA_ABI_PPO_PARAMS] (temperature, clip ranges).
  StepStats step(const PPOBlock &block, const float *ppoParams, float lr);
  /// The mean loss over every unmasked target of `data` (a validation set)
  /// at the current weights, through the artifact's loss entry point; NaN
  /// when no target is unmasked.
  double evaluate(const TrainRows &data) const;
  /// DIR/config.json + model.safetensors (HF layout: llama-run loads it)
  /// and optimizer.safetensors (moments and step), each written atomically.
  void saveCheckpoint(const std::string &dir) const;
  /// The gradients of the first batch (before clipping) as safetensors under
  /// the weights' names.
  void saveGradients(const std::string &path, const TrainRows &data) const;

private:
  /// Runs `call(step_params, loss, grad_norm)`, timed, and counts the step.
  template <typename Call> StepStats timedStep(float lr, Call call);

  const Artifact &artifact;
  TrainStepEntry entry;
  TrainState state;
  std::vector<float *> weights, adamM, adamV; // pointers into state
};

/// Creates `dir` if it does not exist; throws if it cannot.
void makeDirectory(const std::string &dir);

/// An HF config.json for a model config: LlamaForCausalLM, or with
/// `rewardModel` LlamaForSequenceClassification with one label.
std::string hfConfigJson(const ModelConfig &config, bool rewardModel = false);

} // namespace llamart

#endif // LLAMAC_RUNTIME_TRAINER_H
