//===- PPOTrainer.cpp - PPO with a KL penalty, one iteration at a time ----===//

#include "runtime/PPOTrainer.h"

#include "runtime/Error.h"
#include "runtime/Generate.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <random>

namespace llamart {

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

const float *const *floatWeights(const void *const *weights) {
  return reinterpret_cast<const float *const *>(weights);
}

/// The first `count` rows of `from` (rows of `width`) in `order`, from
/// position `start` of it.
template <typename T>
std::vector<T> gatherRows(const std::vector<T> &from, int64_t width,
                          const std::vector<int32_t> &order, int64_t start,
                          int64_t count) {
  std::vector<T> rows;
  rows.reserve(size_t(count * width));
  for (int64_t i = start; i < start + count; ++i)
    rows.insert(rows.end(), from.begin() + order[i] * width,
                from.begin() + (order[i] + 1) * width);
  return rows;
}

double mean(const std::vector<float> &values) {
  return std::accumulate(values.begin(), values.end(), 0.0) /
         double(values.size());
}

} // namespace

PPOTrainer::PPOTrainer(const Artifact &policy, TrainState policyState,
                       const Artifact &value, TrainState valueState,
                       const void *const *reference, ScoreFn score,
                       PPOSettings settings, int32_t eosId)
    : policyArtifact(policy), valueArtifact(value),
      policyTrainer(policy, std::move(policyState)),
      valueTrainer(value, std::move(valueState)), reference(reference),
      scoreFn(std::move(score)), settings(settings), eosId(eosId),
      sampler(policy, policyTrainer.weightPointers()) {
  if (!policy.isPPOPolicy())
    throw RuntimeError("'" + policy.description() +
                       "' is not a PPO policy: compile it with llamac --ppo "
                       "policy");
  if (!value.isValueModel())
    throw RuntimeError("'" + value.description() +
                       "' is not a PPO value model: compile it with llamac "
                       "--ppo value");
  const PPOEntries &p = policy.ppoEntries(), &v = value.ppoEntries();
  if (p.batch != v.batch || p.seq != v.seq)
    throw RuntimeError("the policy's block (" + std::to_string(p.batch) +
                       " x " + std::to_string(p.seq) +
                       ") differs from the value model's (" +
                       std::to_string(v.batch) + " x " + std::to_string(v.seq) +
                       "): compile both with one "
                       "--batch and --seq");
  if (policy.shape().vocabSize != value.shape().vocabSize)
    throw RuntimeError("the value model's vocabulary differs from the "
                       "policy's");
  ppoParams[LLAMA_ABI_PPO_TEMPERATURE] = settings.temperature;
  ppoParams[LLAMA_ABI_PPO_CLIP_RANGE] = settings.clip;
  ppoParams[LLAMA_ABI_PPO_VALUE_CLIP_RANGE] = settings.valueClip;
}

std::vector<Response>
PPOTrainer::sample(const std::vector<std::vector<int32_t>> &prompts,
                   uint64_t seed) {
  GenerationOptions generation;
  generation.sampler.temperature = settings.temperature;
  generation.stopToken = eosId;
  std::vector<Response> responses;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::vector<int32_t> &prompt = prompts[i];
    // Prompt and response fit the compiled rows of seq + 1 tokens.
    generation.maxNewTokens =
        std::min(settings.maxNewTokens, seq() + 1 - int64_t(prompt.size()));
    if (generation.maxNewTokens < 1)
      throw RuntimeError("a prompt of " + std::to_string(prompt.size()) +
                         " tokens leaves no room for a response in the "
                         "artifacts' rows of " +
                         std::to_string(seq() + 1) +
                         " tokens (recompile with a larger --seq)");
    generation.sampler.seed = seed + i;
    sampler.rewind(0);
    Response response;
    response.prompt = prompt;
    response.tokens = generate(sampler, prompt, generation).tokens;
    response.eos = !response.tokens.empty() && response.tokens.back() == eosId;
    responses.push_back(std::move(response));
  }
  return responses;
}

void PPOTrainer::measure(const std::vector<Response> &responses,
                         RolloutRecord &r) {
  int64_t rows = int64_t(responses.size()), positions = seq();
  // Rows of seq + 1 tokens: prompt, response, padding (0, never read:
  // causal attention, and masked out of every loss).
  r.spans = ResponseSpans{positions, {}, {}};
  r.tokens.assign(size_t(rows * (positions + 1)), 0);
  for (int64_t row = 0; row < rows; ++row) {
    const Response &response = responses[row];
    if (response.prompt.empty() || response.tokens.empty() ||
        int64_t(response.prompt.size() + response.tokens.size()) >
            positions + 1)
      throw RuntimeError("response " + std::to_string(row + 1) +
                         " is empty or does not fit, with its prompt, the "
                         "artifacts' rows of " +
                         std::to_string(positions + 1) + " tokens");
    int32_t *out = r.tokens.data() + row * (positions + 1);
    std::copy(response.prompt.begin(), response.prompt.end(), out);
    std::copy(response.tokens.begin(), response.tokens.end(),
              out + response.prompt.size());
    // Position t predicts token t + 1: the response's first token is
    // predicted at the prompt's last position.
    r.spans.first.push_back(int64_t(response.prompt.size()) - 1);
    r.spans.length.push_back(int64_t(response.tokens.size()));
  }

  // Log-probabilities of the samples under the policy and the reference,
  // and the values, through the compiled entry points, a block at a time.
  size_t size = size_t(rows * positions);
  r.logprobs.assign(size, 0.0f);
  r.entropy.assign(size, 0.0f);
  r.refLogprobs.assign(size, 0.0f);
  r.values.assign(size, 0.0f);
  std::vector<float> unused(size_t(blockRows() * positions));
  const PPOEntries &policyEntries = policyArtifact.ppoEntries();
  for (int64_t start = 0; start < rows; start += blockRows()) {
    const int32_t *tokens = r.tokens.data() + start * (positions + 1);
    int64_t offset = start * positions;
    policyEntries.logprobs(
        tokens, ppoParams, floatWeights(policyTrainer.weightPointers()),
        r.logprobs.data() + offset, r.entropy.data() + offset);
    policyEntries.logprobs(tokens, ppoParams, floatWeights(reference),
                           r.refLogprobs.data() + offset, unused.data());
    valueArtifact.ppoEntries().values(
        tokens, floatWeights(valueTrainer.weightPointers()),
        r.values.data() + offset);
  }
}

std::vector<double>
PPOTrainer::klToReference(const std::vector<Response> &responses) {
  // Whole blocks: the last one filled with copies of the first response.
  std::vector<Response> rows = responses;
  while (rows.size() % size_t(blockRows()) != 0)
    rows.push_back(responses.front());
  RolloutRecord r;
  measure(rows, r);
  std::vector<double> kl(responses.size(), 0.0);
  for (size_t row = 0; row < responses.size(); ++row)
    r.spans.forEach(int64_t(row), [&](int64_t i) {
      kl[row] += double(r.logprobs[i]) - double(r.refLogprobs[i]);
    });
  return kl;
}

PPOIterationStats
PPOTrainer::iterate(const std::vector<std::vector<int32_t>> &prompts,
                    int64_t index, RolloutRecord *record) {
  auto start = std::chrono::steady_clock::now();
  std::vector<Response> responses =
      sample(prompts, settings.seed + uint64_t(index) * prompts.size());
  double sampling = secondsSince(start);
  PPOIterationStats stats = learn(responses, index, record);
  stats.sampleSeconds += sampling;
  return stats;
}

PPOIterationStats PPOTrainer::learn(const std::vector<Response> &responses,
                                    int64_t index, RolloutRecord *record) {
  int64_t rows = int64_t(responses.size()), positions = seq();
  if (rows == 0 || rows % blockRows() != 0)
    throw RuntimeError("a rollout of " + std::to_string(rows) +
                       " responses is not a multiple of the artifacts' " +
                       std::to_string(blockRows()) + " rows");
  PPOIterationStats stats;
  auto start = std::chrono::steady_clock::now();

  RolloutRecord local;
  RolloutRecord &r = record ? *record : local;
  measure(responses, r);
  for (const Response &response : responses)
    stats.eosFraction += response.eos;

  r.scores = scoreFn(responses);
  r.shapedScores = r.scores;
  for (int64_t row = 0; row < rows; ++row)
    if (!responses[row].eos)
      r.shapedScores[row] -= float(settings.missingEosPenalty);
  if (settings.whitenScores)
    whitenAll(r.shapedScores);
  r.kl = klPenalty(r.logprobs, r.refLogprobs, r.spans, settings.kl);
  r.rewards = tokenRewards(r.kl, r.shapedScores, settings.beta, r.spans);
  generalizedAdvantages(r.rewards, r.values, r.spans, settings.gamma,
                        settings.lambda, r.rawAdvantages, r.returns);
  r.advantages = r.rawAdvantages;
  if (settings.whitenAdvantages)
    whiten(r.advantages, r.spans, /*shiftMean=*/true);
  stats.sampleSeconds = secondsSince(start);

  // Epochs of shuffled mini-batches, one step of each model per block.
  std::vector<float> mask = r.spans.mask();
  std::mt19937_64 shuffler(settings.seed * 1000003u + uint64_t(index));
  int64_t steps = 0;
  r.order.clear();
  for (int64_t epoch = 0; epoch < settings.epochs; ++epoch) {
    std::vector<int32_t> order(rows);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), shuffler);
    r.order.insert(r.order.end(), order.begin(), order.end());
    for (int64_t begin = 0; begin < rows; begin += blockRows(), ++steps) {
      auto gather = [&](const std::vector<float> &from) {
        return gatherRows(from, positions, order, begin, blockRows());
      };
      // The same rows for both models: the policy's inputs, then the value
      // model's in their place.
      PPOBlock block{
          gatherRows(r.tokens, positions + 1, order, begin, blockRows()),
          gather(mask), gather(r.logprobs), gather(r.advantages)};
      StepStats policyStep = policyTrainer.step(block, ppoParams, settings.lr);
      block.old = gather(r.values);
      block.target = gather(r.returns);
      StepStats valueStep =
          valueTrainer.step(block, ppoParams, settings.valueLr);
      stats.policyLoss += policyStep.loss;
      stats.clipFraction += policyStep.clipFraction;
      stats.approxKl += policyStep.approxKl;
      stats.valueLoss += valueStep.loss;
      stats.valueClipFraction += valueStep.clipFraction;
      stats.trainSeconds += policyStep.seconds + valueStep.seconds;
    }
  }

  // Means: per response (sums over its tokens), per token, per step.
  double tokens = 0, klSum = 0, rewardSum = 0, entropySum = 0;
  for (int64_t row = 0; row < rows; ++row)
    r.spans.forEach(row, [&](int64_t i) {
      klSum += r.kl[i];
      rewardSum += r.rewards[i];
      entropySum += r.entropy[i];
      tokens += 1;
    });
  stats.score = mean(r.scores);
  stats.kl = klSum / double(rows);
  stats.reward = rewardSum / double(rows);
  stats.entropy = entropySum / tokens;
  stats.responseLength = tokens / double(rows);
  stats.eosFraction /= double(rows);
  stats.tokens = tokens;
  for (double *mean : {&stats.policyLoss, &stats.clipFraction, &stats.approxKl,
                       &stats.valueLoss, &stats.valueClipFraction})
    *mean /= double(steps);
  return stats;
}

} // namespace llamart
