//===- PPOTrainer.h - PPO with a KL penalty, one iteration at a time -*- C++
//-*-===//
//
// The last stage of the Llama 2 recipe (Section 3.2.3): each iteration
// samples a response per prompt from the policy, scores it, and updates the
// policy with the clipped surrogate and the value model with the clipped
// value loss, over mini-batches for some epochs, all through the artifacts
// llamac --ppo compiles. The reward of a response is its score (whitened
// over the rollout by default, as the paper does) on its last token minus
// beta times the per-token KL to the frozen reference policy.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_PPOTRAINER_H
#define LLAMAC_RUNTIME_PPOTRAINER_H

#include "runtime/Model.h"
#include "runtime/PPO.h"
#include "runtime/Trainer.h"

#include <functional>
#include <memory>

namespace llamart {

/// The settings, defaulting to the Llama 2 paper's where it gives them
/// (beta 0.01 at 7B and 13B, clip 0.2, constant lr 1e-6, one pass over the
/// rollout) and to TRL's PPOTrainer where it does not (gamma 1, lambda
/// 0.95, value clip 0.2, k1, advantage whitening).
struct PPOSettings {
  double beta = 0.01, gamma = 1.0, lambda = 0.95;
  float clip = 0.2f, valueClip = 0.2f, temperature = 1.0f;
  float lr = 1e-6f, valueLr = 1e-6f;
  int64_t epochs = 1, maxNewTokens = 64;
  KLEstimator kl = KLEstimator::K1;
  bool whitenScores = true, whitenAdvantages = true;
  double missingEosPenalty = 0; // subtracted from responses without EOS
  uint64_t seed = 0;
};

/// A sampled response to a prompt (both token ids; EOS included when
/// generated).
struct Response {
  std::vector<int32_t> prompt, tokens;
  bool eos = false;
};

/// Scores responses (a reward model, or a rule); one score each.
using ScoreFn =
    std::function<std::vector<float>(const std::vector<Response> &)>;

/// What one iteration did: means over its responses (kl and reward: summed
/// over each response's tokens first, as TRL's objective/kl) and over its
/// optimizer steps.
struct PPOIterationStats {
  double score = 0, reward = 0, kl = 0, entropy = 0, responseLength = 0,
         eosFraction = 0;
  double policyLoss = 0, valueLoss = 0, clipFraction = 0, approxKl = 0,
         valueClipFraction = 0;
  double sampleSeconds = 0, trainSeconds = 0, tokens = 0;
};

/// Everything an iteration computed, for checking it (llama-ppo
/// --dump-rollout): per position [rows, seq] unless noted.
struct RolloutRecord {
  ResponseSpans spans;
  std::vector<int32_t> tokens; // [rows, seq + 1]
  std::vector<float> logprobs, refLogprobs, values, entropy, kl, rewards,
      rawAdvantages, advantages, returns;
  std::vector<float> scores, shapedScores; // [rows]: raw, as used
  std::vector<int32_t> order;              // [epochs, rows]: row order
};

class PPOTrainer {
public:
  /// `policy` and `value` are llamac --ppo policy / value artifacts with
  /// one block shape, `reference` the frozen policy's weights (the
  /// policy's manifest order). Throws RuntimeError if they do not fit.
  PPOTrainer(const Artifact &policy, TrainState policyState,
             const Artifact &value, TrainState valueState,
             const void *const *reference, ScoreFn score, PPOSettings settings,
             int32_t eosId);

  /// Rows per rollout must be a multiple of this (the compiled block).
  int64_t blockRows() const { return policyTrainer.batch(); }
  /// Positions per row: prompt + response fit in seq() + 1 tokens.
  int64_t seq() const { return policyTrainer.seq(); }

  /// One iteration on `prompts` (token ids, one response each; a multiple
  /// of blockRows()), sampled with seed settings.seed + index * rows + i:
  /// sample, then learn. With `record`, fills it.
  PPOIterationStats iterate(const std::vector<std::vector<int32_t>> &prompts,
                            int64_t index, RolloutRecord *record = nullptr);
  /// The update of iteration `index` from given responses (sampled, or
  /// replayed): scores, rewards, advantages, then the epochs of steps.
  PPOIterationStats learn(const std::vector<Response> &responses, int64_t index,
                          RolloutRecord *record = nullptr);
  /// One seeded response per prompt from the current policy.
  std::vector<Response> sample(const std::vector<std::vector<int32_t>> &prompts,
                               uint64_t seed);
  /// Per response, its log-ratio to the reference summed over its tokens:
  /// over samples of the current policy (at temperature 1), the mean is an
  /// unbiased estimate of KL(policy || reference).
  std::vector<double> klToReference(const std::vector<Response> &responses);
  /// Their scores.
  std::vector<float> score(const std::vector<Response> &responses) const {
    return scoreFn(responses);
  }

  Trainer &policy() { return policyTrainer; }
  Trainer &value() { return valueTrainer; }

private:
  /// Lays out `responses` (a multiple of blockRows()) as rows and runs the
  /// compiled entry points over them: fills the record's spans, tokens,
  /// log-probabilities of policy and reference, entropy and values.
  void measure(const std::vector<Response> &responses, RolloutRecord &r);

  const Artifact &policyArtifact, &valueArtifact;
  Trainer policyTrainer, valueTrainer;
  const void *const *reference;
  ScoreFn scoreFn;
  PPOSettings settings;
  int32_t eosId;
  Model sampler; // the policy's current weights, for rollouts
  float ppoParams[LLAMA_ABI_PPO_PARAMS];
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_PPOTRAINER_H
