//===- llama-rejection-sampling.cpp - best-of-K samples as SFT data -------===//
//
//   llama-rejection-sampling POLICY --policy-weights PATH
//       [--reward RM --reward-weights PATH --out BEST.jsonl] --tokenizer M
//       --prompts FILE [-k K] [--temperature T] [--top-p P]
//       [--max-new-tokens N] [--seed S] [--samples-out FILE] [-t THREADS]
//
// Llama 2's rejection sampling (Section 3.2.3): for each prompt, K responses
// sampled from the policy, each scored by the reward model; the best one per
// prompt is written as an SFT record {"prompt", "answer"} that
// `llama-train --data BEST.jsonl` fine-tunes on (prompt masked out of the
// loss). POLICY is a `llamac CONFIG` artifact, RM a `llamac CONFIG --reward`
// one with the same vocabulary. Without a reward model it only samples
// (--samples-out): the response pairs annotators rate.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Error.h"
#include "runtime/Generate.h"
#include "runtime/Json.h"
#include "runtime/Model.h"
#include "runtime/Preferences.h"
#include "runtime/RewardModel.h"
#include "runtime/SafeTensors.h"
#include "runtime/SafeTensorsWriter.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"
#include "tools/common/Flags.h"
#include "tools/common/ToolMain.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <unistd.h>

using namespace llamart;

namespace {

const char *kUsage =
    "usage: llama-rejection-sampling POLICY --policy-weights PATH [--reward RM "
    "--reward-weights PATH\n"
    "           --out BEST.jsonl] --tokenizer M --prompts FILE [-k K] "
    "[--temperature T]\n"
    "           [--top-p P] [--max-new-tokens N] [--seed S] [--samples-out "
    "FILE] [-t THREADS]\n"
    "\n"
    "  POLICY            the policy, made by llamac CONFIG\n"
    "  --policy-weights  its checkpoint (safetensors file or HF directory)\n"
    "  --reward RM       the reward model, made by llamac CONFIG --reward\n"
    "  --reward-weights  its checkpoint (llama-reward train --out); without "
    "a reward\n"
    "                    model the tool only samples (--samples-out, "
    "unscored)\n"
    "  --prompts FILE    JSONL with a \"prompt\" string per line (other "
    "fields ignored)\n"
    "  --out FILE        the best response per prompt as SFT JSONL "
    "{\"prompt\", \"answer\"},\n"
    "                    with \"reward\", \"first_reward\", \"mean_reward\" "
    "and \"eos\"\n"
    "  -k K              samples per prompt (default 4)\n"
    "  --temperature T   sampling temperature (default 1.0; the Llama 2 paper "
    "found\n"
    "                    1.2-1.3 best for its chat models)\n"
    "  --top-p P         nucleus sampling (default 1: off)\n"
    "  --max-new-tokens N  response length limit (default 64); a response "
    "that\n"
    "                    reaches it without EOS is scored at its last token\n"
    "  --seed S          sample k of prompt i uses seed S + i * K + k "
    "(default 0)\n"
    "  --samples-out F   every sample as JSONL {\"prompt\", \"sample\", "
    "\"response\",\n"
    "                    \"reward\", \"eos\"}\n"
    "  -t THREADS        threads (default: all cores)\n"
    "\n"
    "The prompt is fed as BOS + prompt + \"\\n\" (the SFT format) and the "
    "reward model\n"
    "scores prompt + response + EOS as it sees its training pairs.\n";

struct Options {
  std::string policy, policyWeights, reward, rewardWeights, tokenizer, prompts,
      out, samplesOut;
  int64_t k = 4, maxNewTokens = 64, threads = 0;
  double temperature = 1.0, topP = 1.0;
  uint64_t seed = 0;
};

Options parseOptions(int argc, char **argv) {
  Options options;
  ArgReader reader(argc, argv);
  while (reader.next()) {
    const std::string &arg = reader.arg();
    auto value = [&] { return reader.value(); };
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--policy-weights") {
      options.policyWeights = value();
    } else if (arg == "--reward") {
      options.reward = value();
    } else if (arg == "--reward-weights") {
      options.rewardWeights = value();
    } else if (arg == "--tokenizer") {
      options.tokenizer = value();
    } else if (arg == "--prompts") {
      options.prompts = value();
    } else if (arg == "--out") {
      options.out = value();
    } else if (arg == "--samples-out") {
      options.samplesOut = value();
    } else if (arg == "-k") {
      options.k = parseInteger(arg, value(), 1);
    } else if (arg == "--max-new-tokens") {
      options.maxNewTokens = parseInteger(arg, value(), 1);
    } else if (arg == "--temperature") {
      options.temperature = parseNumber(arg, value(), 0, 100, true);
    } else if (arg == "--top-p") {
      options.topP = parseNumber(arg, value(), 0, 1, false);
    } else if (arg == "--seed") {
      options.seed = uint64_t(parseInteger(arg, value(), 0));
    } else if (arg == "-t") {
      options.threads = parseInteger(arg, value(), 1);
    } else {
      takePositional(arg, {&options.policy});
    }
  }
  if (options.policy.empty())
    throw RuntimeError("no POLICY artifact given (see --help)");
  requireFlags({{"--policy-weights", &options.policyWeights},
                {"--tokenizer", &options.tokenizer},
                {"--prompts", &options.prompts}});
  if (options.reward.empty()) {
    if (!options.rewardWeights.empty() || !options.out.empty())
      throw RuntimeError("--reward-weights and --out need --reward");
    if (options.samplesOut.empty())
      throw RuntimeError("without --reward, give --samples-out");
  } else if (options.rewardWeights.empty() || options.out.empty()) {
    throw RuntimeError("--reward needs --reward-weights and --out");
  }
  return options;
}

/// One sampled response: its text (EOS not included), whether it ended with
/// EOS, and the tokens (prompt included) the reward model scores.
struct Sample {
  std::string text;
  bool eos = false;
  ScoredSequence scored;
  float reward = 0;
};

/// K seeded samples of each prompt; sequences are cut to `scoredSeq` tokens.
std::vector<std::vector<Sample>>
sampleAll(const Options &options, Model &model, const Tokenizer &tokenizer,
          const std::vector<std::string> &prompts, int64_t scoredSeq) {
  GenerationOptions generation;
  generation.sampler.temperature = float(options.temperature);
  generation.sampler.topP = float(options.topP);
  generation.stopToken = tokenizer.eosId();
  std::vector<std::vector<Sample>> samples(prompts.size());
  // A progress line on a terminal; logs get the summary only.
  bool progress = isatty(STDERR_FILENO);
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> prompt =
        encodeSample(tokenizer, prompts[i], "", /*eos=*/false).prompt;
    // Every decoded token takes a cache row, the last one's included.
    generation.maxNewTokens = std::min(
        options.maxNewTokens, model.shape().seqLen - int64_t(prompt.size()));
    if (generation.maxNewTokens < 1)
      throw RuntimeError(options.prompts + ": prompt " + std::to_string(i + 1) +
                         " fills the policy's " +
                         std::to_string(model.shape().seqLen) +
                         " positions, leaving none to respond");
    for (int64_t k = 0; k < options.k; ++k) {
      generation.sampler.seed = options.seed + uint64_t(i * options.k + k);
      model.rewind(0);
      Generation result = generate(model, prompt, generation);
      Sample sample;
      sample.eos =
          !result.tokens.empty() && result.tokens.back() == tokenizer.eosId();
      sample.text = decodeAnswer(tokenizer, result.tokens);
      sample.scored = scoredSequence(prompt, result.tokens, scoredSeq);
      samples[i].push_back(std::move(sample));
    }
    if (progress)
      std::fprintf(stderr, "\rprompt %zu/%zu", i + 1, prompts.size());
  }
  if (progress)
    std::fprintf(stderr, "\n");
  return samples;
}

/// {"prompt", "sample", "response", ["reward",] "eos"} per sample.
std::string samplesJsonl(const std::vector<std::string> &prompts,
                         const std::vector<std::vector<Sample>> &samples,
                         bool scored) {
  std::string all;
  for (size_t i = 0; i < prompts.size(); ++i)
    for (size_t k = 0; k < samples[i].size(); ++k) {
      const Sample &sample = samples[i][k];
      std::ostringstream line;
      line.precision(6);
      line << "{\"prompt\": " << quoteJson(prompts[i]) << ", \"sample\": " << k
           << ", \"response\": " << quoteJson(sample.text);
      if (scored)
        line << ", \"reward\": " << sample.reward;
      line << ", \"eos\": " << (sample.eos ? "true" : "false") << "}\n";
      all += line.str();
    }
  return all;
}

/// The reward model, checked against the policy; null without --reward.
std::unique_ptr<Artifact> openReward(const Options &options,
                                     const Artifact &policy) {
  if (options.reward.empty())
    return nullptr;
  std::unique_ptr<Artifact> reward = openRewardModelFor(options.reward, policy);
  if (options.threads)
    reward->setThreads(options.threads);
  return reward;
}

/// Scores every sample and writes the best per prompt to --out; returns
/// "mean reward: first sample .., all samples .., best of K ..".
std::string selectBest(const Options &options, const Artifact &reward,
                       const std::vector<std::string> &prompts,
                       std::vector<std::vector<Sample>> &samples) {
  SafeTensors checkpoint = SafeTensors::open(options.rewardWeights);
  BoundWeights weights(reward, checkpoint);
  std::string best;
  double firstSum = 0, bestSum = 0, meanSum = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<Sample> &group = samples[i];
    std::vector<const ScoredSequence *> sequences;
    for (const Sample &sample : group)
      sequences.push_back(&sample.scored);
    std::vector<float> rewards =
        scoreSequences(reward, weights.pointers(), sequences);
    double mean = 0;
    for (size_t k = 0; k < group.size(); ++k) {
      group[k].reward = rewards[k];
      mean += rewards[k];
    }
    mean /= double(group.size());
    auto winner = std::max_element(
        group.begin(), group.end(),
        [](const Sample &a, const Sample &b) { return a.reward < b.reward; });
    firstSum += group.front().reward;
    bestSum += winner->reward;
    meanSum += mean;
    std::ostringstream line;
    line.precision(6);
    line << "{\"prompt\": " << quoteJson(prompts[i])
         << ", \"answer\": " << quoteJson(winner->text)
         << ", \"reward\": " << winner->reward
         << ", \"first_reward\": " << group.front().reward
         << ", \"mean_reward\": " << mean
         << ", \"eos\": " << (winner->eos ? "true" : "false") << "}\n";
    best += line.str();
  }
  writeFileAtomically(options.out, best);
  double count = double(prompts.size());
  char summary[160];
  std::snprintf(summary, sizeof summary,
                "mean reward: first sample %.4f, all samples %.4f, best of "
                "%lld %.4f; ",
                firstSum / count, meanSum / count, (long long)options.k,
                bestSum / count);
  return summary;
}

int run(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  Artifact policy(options.policy);
  if (options.threads)
    policy.setThreads(options.threads);
  std::unique_ptr<Artifact> reward = openReward(options, policy);
  std::unique_ptr<Tokenizer> tokenizer =
      openTokenizerFor(options.tokenizer, policy.shape().vocabSize);
  std::vector<std::string> prompts = loadPrompts(options.prompts);
  SafeTensors policyWeights = SafeTensors::open(options.policyWeights);
  Model model(policy, policyWeights);

  std::vector<std::vector<Sample>> samples =
      sampleAll(options, model, *tokenizer, prompts,
                reward ? reward->rewardEntries().seq : model.shape().seqLen);
  int64_t withoutEos = 0;
  for (const std::vector<Sample> &group : samples)
    for (const Sample &sample : group)
      withoutEos += !sample.eos;
  std::string rewards =
      reward ? selectBest(options, *reward, prompts, samples) : "";
  if (!options.samplesOut.empty())
    writeFileAtomically(options.samplesOut,
                        samplesJsonl(prompts, samples, reward != nullptr));
  std::fprintf(stderr,
               "llama-rejection-sampling: %zu prompts x %lld samples at "
               "temperature %g; %s%lld of %lld samples ended without EOS%s\n",
               prompts.size(), (long long)options.k, options.temperature,
               rewards.c_str(), (long long)withoutEos,
               (long long)(options.k * int64_t(prompts.size())),
               reward ? " (scored at their last token)" : "");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  return runTool("llama-rejection-sampling", run, argc, argv);
}
