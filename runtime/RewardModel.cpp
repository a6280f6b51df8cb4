//===- RewardModel.cpp - scoring with a compiled reward model -------------===//

#include "runtime/RewardModel.h"

#include "runtime/Error.h"

namespace llamart {

/// Throws unless `artifact` is a reward model.
static void checkRewardModel(const Artifact &artifact) {
  if (!artifact.isRewardModel())
    throw RuntimeError("'" + artifact.description() +
                       "' is not a reward model: compile one with llamac "
                       "CONFIG --reward");
}

std::unique_ptr<Artifact> openRewardModel(const std::string &path) {
  auto artifact = std::make_unique<Artifact>(path);
  checkRewardModel(*artifact);
  return artifact;
}

std::unique_ptr<Artifact> openRewardModelFor(const std::string &path,
                                             const Artifact &policy) {
  std::unique_ptr<Artifact> reward = openRewardModel(path);
  if (reward->shape().vocabSize != policy.shape().vocabSize)
    throw RuntimeError("the reward model's vocabulary (" +
                       std::to_string(reward->shape().vocabSize) +
                       ") differs from the policy's (" +
                       std::to_string(policy.shape().vocabSize) + ")");
  return reward;
}

std::vector<float>
scoreSequences(const Artifact &artifact, const void *const *weights,
               const std::vector<const ScoredSequence *> &sequences) {
  checkRewardModel(artifact);
  const RewardEntries &entries = artifact.rewardEntries();
  std::vector<float> rewards;
  rewards.reserve(sequences.size());
  ScoreRows rows(entries.rows, entries.seq);
  std::vector<float> chunk(entries.rows);
  for (size_t first = 0; first < sequences.size(); first += entries.rows) {
    for (int64_t row = 0; row < entries.rows; ++row) {
      size_t index = first + row < sequences.size() ? first + row : first;
      rows.put(row, *sequences[index]);
    }
    entries.score(rows.tokens.data(), rows.ends.data(), weights, chunk.data());
    for (int64_t row = 0; row < entries.rows && first + row < sequences.size();
         ++row)
      rewards.push_back(chunk[row]);
  }
  return rewards;
}

PairAccuracy pairAccuracy(const Artifact &artifact, const void *const *weights,
                          const std::vector<PreferencePair> &pairs) {
  std::vector<const ScoredSequence *> sequences;
  for (const PreferencePair &pair : pairs)
    sequences.insert(sequences.end(), {&pair.chosen, &pair.rejected});
  std::vector<float> rewards = scoreSequences(artifact, weights, sequences);
  PairAccuracy accuracy;
  for (size_t i = 0; i < pairs.size(); ++i)
    accuracy.add(pairs[i].rating, rewards[2 * i] > rewards[2 * i + 1]);
  return accuracy;
}

} // namespace llamart
