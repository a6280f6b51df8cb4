//===- llama-ppo.cpp - PPO with a KL penalty to the initial policy --------===//
//
//   llama-ppo POLICY --policy-weights PATH --value VALUE --tokenizer M
//       --prompts FILE --out DIR
//       (--reward RM --reward-weights PATH | --reward-tokens IDS) [options]
//
// The last stage of the Llama 2 recipe (Section 3.2.3): PPO on the reward
// model's score with a per-token KL penalty to the initial policy. POLICY
// and VALUE are `llamac CONFIG --ppo policy` and `--ppo value` artifacts
// (one --batch and --seq), RM a `llamac CONFIG --reward` one. See --help.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Model.h"
#include "runtime/PPOTrainer.h"
#include "runtime/RewardModel.h"
#include "runtime/SafeTensors.h"
#include "runtime/SafeTensorsWriter.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"
#include "tools/common/Flags.h"
#include "tools/common/Plot.h"
#include "tools/common/ToolMain.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

using namespace llamart;

namespace {

const char *kUsage =
    "usage: llama-ppo POLICY --policy-weights PATH --value VALUE --tokenizer "
    "M\n"
    "           --prompts FILE --out DIR (--reward RM --reward-weights PATH |\n"
    "           --reward-tokens IDS) [options]\n"
    "\n"
    "  POLICY            the policy, made by llamac CONFIG --ppo policy\n"
    "  --policy-weights  the initial policy (an SFT checkpoint); also the "
    "frozen\n"
    "                    reference of the KL penalty unless --ref-weights\n"
    "  --value VALUE     the value model, made by llamac CONFIG --ppo value "
    "(same\n"
    "                    --batch and --seq)\n"
    "  --value-weights   its start: a reward-model checkpoint, or a policy's "
    "with a\n"
    "                    fresh head (default: --reward-weights, else "
    "--policy-weights)\n"
    "  --reward RM       the reward model, made by llamac CONFIG --reward\n"
    "  --reward-weights  its checkpoint (llama-reward train --out)\n"
    "  --reward-tokens IDS  instead of a reward model: score 1 for a "
    "response that\n"
    "                    contains one of these token ids, else 0 (a rule, "
    "for tests)\n"
    "  --prompts FILE    JSONL with a \"prompt\" per line, fed as BOS + "
    "prompt + \"\\n\"\n"
    "                    (or --replay)\n"
    "  --out DIR         DIR/policy and DIR/value (HF checkpoints + "
    "optimizer state),\n"
    "                    DIR/ppo.csv and DIR/ppo.png (score and KL per "
    "iteration)\n"
    "  --iterations N    PPO iterations (default 200; the paper ran "
    "200-400)\n"
    "  --rollout N       responses per iteration, one per prompt in turn "
    "(default 512,\n"
    "                    the paper's; a multiple of the artifacts' --batch, "
    "the\n"
    "                    mini-batch: one step of each model per block)\n"
    "  --epochs E        passes over each rollout (default 1, the paper's)\n"
    "  --beta B          KL penalty (default 0.01, the paper's at 7B and "
    "13B)\n"
    "  --kl k1|k3        per-token KL estimator (default k1)\n"
    "  --gamma G, --lambda L   GAE discount and trace (default 1, 0.95)\n"
    "  --clip C          policy ratio clip range (default 0.2)\n"
    "  --value-clip C    value clip range (default 0.2)\n"
    "  --lr R            policy learning rate, constant (default 1e-6)\n"
    "  --value-lr R      value model learning rate (default: --lr)\n"
    "  --temperature T   rollout temperature, also dividing the logits of "
    "every\n"
    "                    log-probability (default 1)\n"
    "  --max-new-tokens N  response length limit (default 64)\n"
    "  --no-whiten-scores     use the raw score (default: whitened over the "
    "rollout)\n"
    "  --no-whiten-advantages keep the raw GAE advantages\n"
    "  --missing-eos-penalty P  subtracted from the score of a response "
    "that\n"
    "                    reaches --max-new-tokens without EOS (default 0)\n"
    "  --eval-prompts FILE  held-out prompts: one sample each is scored, with "
    "its KL\n"
    "                    to the reference, before the first iteration and "
    "every\n"
    "                    --eval-every (DIR/eval-N.jsonl)\n"
    "  --eval-every K    (default: iterations / 10)\n"
    "  --save-every K    DIR/checkpoint-N every K iterations\n"
    "  --resume DIR      continue the run a --out or checkpoint DIR holds "
    "(same settings)\n"
    "  --dump-rollout F  the first iteration's rollout, rewards, advantages, "
    "returns\n"
    "                    and mini-batch order as safetensors (float32)\n"
    "  --replay FILE     learn from these responses instead of sampling: "
    "JSONL\n"
    "                    {\"prompt\", \"response_ids\": [ids, EOS "
    "last if it ended]},\n"
    "                    the whole file each iteration (for checks and "
    "off-policy data)\n"
    "  --seed S          sampling and shuffling seed (default 0)\n"
    "  -t THREADS        threads (default: all cores)\n"
    "\n"
    "Each response's reward is its score on its last token (EOS, or the "
    "last one\n"
    "generated) minus beta times the per-token KL to the reference policy. "
    "The\n"
    "log reports, per iteration: the reward model's mean score, the mean "
    "KL summed\n"
    "over each response, clip fraction, approximate KL, value loss, entropy "
    "and\n"
    "tokens/s.\n";

struct Options {
  std::string policy, policyWeights, refWeights, value, valueWeights, reward,
      rewardWeights, rewardTokens, tokenizer, prompts, evalPrompts, out, resume,
      dumpRollout, replay;
  int64_t iterations = 200, rollout = 512, evalEvery = 0, saveEvery = 0,
          threads = 0;
  double valueLr = -1;
  PPOSettings settings;
};

Options parseOptions(int argc, char **argv) {
  Options options;
  PPOSettings &s = options.settings;
  ArgReader reader(argc, argv);
  while (reader.next()) {
    const std::string &arg = reader.arg();
    auto value = [&] { return reader.value(); };
    auto number = [&](double min, double max, bool minIncluded) {
      return parseNumber(arg, value(), min, max, minIncluded);
    };
    std::map<std::string, std::string *> paths = {
        {"--policy-weights", &options.policyWeights},
        {"--ref-weights", &options.refWeights},
        {"--value", &options.value},
        {"--value-weights", &options.valueWeights},
        {"--reward", &options.reward},
        {"--reward-weights", &options.rewardWeights},
        {"--reward-tokens", &options.rewardTokens},
        {"--tokenizer", &options.tokenizer},
        {"--prompts", &options.prompts},
        {"--eval-prompts", &options.evalPrompts},
        {"--out", &options.out},
        {"--resume", &options.resume},
        {"--dump-rollout", &options.dumpRollout},
        {"--replay", &options.replay}};
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (paths.count(arg)) {
      *paths[arg] = value();
    } else if (arg == "--iterations") {
      options.iterations = parseInteger(arg, value(), 1);
    } else if (arg == "--rollout") {
      options.rollout = parseInteger(arg, value(), 1);
    } else if (arg == "--epochs") {
      s.epochs = parseInteger(arg, value(), 1);
    } else if (arg == "--eval-every") {
      options.evalEvery = parseInteger(arg, value(), 1);
    } else if (arg == "--save-every") {
      options.saveEvery = parseInteger(arg, value(), 1);
    } else if (arg == "--max-new-tokens") {
      s.maxNewTokens = parseInteger(arg, value(), 1);
    } else if (arg == "-t") {
      options.threads = parseInteger(arg, value(), 1);
    } else if (arg == "--seed") {
      s.seed = uint64_t(parseInteger(arg, value(), 0));
    } else if (arg == "--beta") {
      s.beta = number(0, 1e6, true);
    } else if (arg == "--kl") {
      s.kl = parseKLEstimator(value());
    } else if (arg == "--gamma") {
      s.gamma = number(0, 1, true);
    } else if (arg == "--lambda") {
      s.lambda = number(0, 1, true);
    } else if (arg == "--clip") {
      s.clip = float(number(0, 1, false));
    } else if (arg == "--value-clip") {
      s.valueClip = float(number(0, 1e6, false));
    } else if (arg == "--lr") {
      s.lr = float(number(0, 1, false));
    } else if (arg == "--value-lr") {
      options.valueLr = number(0, 1, false);
    } else if (arg == "--temperature") {
      s.temperature = float(number(0, 100, false));
    } else if (arg == "--missing-eos-penalty") {
      s.missingEosPenalty = number(0, 1e6, true);
    } else if (arg == "--no-whiten-scores") {
      s.whitenScores = false;
    } else if (arg == "--no-whiten-advantages") {
      s.whitenAdvantages = false;
    } else {
      takePositional(arg, {&options.policy});
    }
  }
  if (options.policy.empty())
    throw RuntimeError("no POLICY artifact given (see --help)");
  requireFlags({{"--policy-weights", &options.policyWeights},
                {"--value", &options.value},
                {"--tokenizer", &options.tokenizer},
                {"--out", &options.out}});
  if (options.prompts.empty() == options.replay.empty())
    throw RuntimeError("give either --prompts or --replay");
  bool model = !options.reward.empty() || !options.rewardWeights.empty();
  if (model == !options.rewardTokens.empty())
    throw RuntimeError("give either --reward with --reward-weights, or "
                       "--reward-tokens");
  if (model && (options.reward.empty() || options.rewardWeights.empty()))
    throw RuntimeError("--reward and --reward-weights go together");
  if (options.valueLr < 0)
    options.valueLr = s.lr;
  s.valueLr = float(options.valueLr);
  if (options.refWeights.empty())
    options.refWeights = options.policyWeights;
  if (options.valueWeights.empty())
    options.valueWeights =
        model ? options.rewardWeights : options.policyWeights;
  if (options.evalEvery == 0)
    options.evalEvery = std::max<int64_t>(1, options.iterations / 10);
  return options;
}

/// The prompts of a JSONL file, each encoded as BOS + prompt + "\n".
std::vector<std::vector<int32_t>> encodePrompts(const std::string &path,
                                                const Tokenizer &tokenizer) {
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string &prompt : loadPrompts(path))
    prompts.push_back(
        encodeSample(tokenizer, prompt, "", /*eos=*/false).prompt);
  return prompts;
}

/// --replay's responses: {"prompt", "response_ids"} per line.
std::vector<Response> loadReplay(const std::string &path,
                                 const Tokenizer &tokenizer, int64_t vocab) {
  std::vector<Response> responses;
  forEachJsonLine(
      path, "replay", [&](const JsonValue &record, const std::string &where) {
        const JsonValue *prompt =
            record.isObject() ? record.find("prompt") : nullptr;
        const JsonValue *ids =
            record.isObject() ? record.find("response_ids") : nullptr;
        if (!prompt || !prompt->isString() || !ids || !ids->isArray() ||
            ids->array.empty())
          throw RuntimeError(where + ": expected {\"prompt\": \"...\", "
                                     "\"response_ids\": [ids]}");
        Response response;
        response.prompt =
            encodeSample(tokenizer, prompt->string, "", /*eos=*/false).prompt;
        for (const JsonValue &id : ids->array) {
          if (!id.isInteger || id.integer < 0 || id.integer >= vocab)
            throw RuntimeError(where +
                               ": a response id outside the "
                               "vocabulary [0, " +
                               std::to_string(vocab) + ")");
          response.tokens.push_back(int32_t(id.integer));
        }
        response.eos = response.tokens.back() == tokenizer.eosId();
        responses.push_back(std::move(response));
      });
  if (responses.empty())
    throw RuntimeError("'" + path + "' holds no responses");
  return responses;
}

/// The token ids of --reward-tokens, each inside the vocabulary.
std::set<int32_t> parseTokenIds(const std::string &text, int64_t vocab) {
  std::set<int32_t> ids;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    int64_t id = parseInteger("--reward-tokens", item, 0);
    if (id >= vocab)
      throw RuntimeError("--reward-tokens: id " + item +
                         " is outside the vocabulary [0, " +
                         std::to_string(vocab) + ")");
    ids.insert(int32_t(id));
  }
  return ids;
}

/// The reward model (or the rule) as PPO's score function. `rm` and
/// `weights` outlive it.
struct RewardSource {
  std::unique_ptr<Artifact> rm;
  std::unique_ptr<SafeTensors> checkpoint;
  std::unique_ptr<BoundWeights> weights;
  std::set<int32_t> rewardedTokens;
  int64_t cut = 0; // sequences longer than the reward model's rows

  ScoreFn scoreFn() {
    if (!rm)
      return [this](const std::vector<Response> &responses) {
        std::vector<float> scores;
        for (const Response &response : responses)
          scores.push_back(std::any_of(response.tokens.begin(),
                                       response.tokens.end(),
                                       [&](int32_t token) {
                                         return rewardedTokens.count(token);
                                       })
                               ? 1.0f
                               : 0.0f);
        return scores;
      };
    return [this](const std::vector<Response> &responses) {
      // As the reward model saw its pairs: BOS + prompt + "\n" + response
      // (+ EOS), cut to its rows.
      std::vector<ScoredSequence> sequences;
      for (const Response &response : responses) {
        sequences.push_back(scoredSequence(response.prompt, response.tokens,
                                           rm->rewardEntries().seq));
        cut += sequences.back().cut;
      }
      std::vector<const ScoredSequence *> pointers;
      for (const ScoredSequence &sequence : sequences)
        pointers.push_back(&sequence);
      return scoreSequences(*rm, weights->pointers(), pointers);
    };
  }
};

RewardSource openRewardSource(const Options &options, const Artifact &policy) {
  RewardSource source;
  if (!options.rewardTokens.empty()) {
    source.rewardedTokens =
        parseTokenIds(options.rewardTokens, policy.shape().vocabSize);
    return source;
  }
  source.rm = openRewardModelFor(options.reward, policy);
  if (options.threads)
    source.rm->setThreads(options.threads);
  source.checkpoint =
      std::make_unique<SafeTensors>(SafeTensors::open(options.rewardWeights));
  source.weights =
      std::make_unique<BoundWeights>(*source.rm, *source.checkpoint);
  return source;
}

/// Prompts [first, first + count) of `all`, wrapping around.
std::vector<std::vector<int32_t>>
promptsFrom(const std::vector<std::vector<int32_t>> &all, int64_t first,
            int64_t count) {
  std::vector<std::vector<int32_t>> chosen;
  for (int64_t i = 0; i < count; ++i)
    chosen.push_back(all[size_t((first + i) % int64_t(all.size()))]);
  return chosen;
}

/// The held-out evaluation: mean score and KL to the reference.
struct Evaluation {
  double score = 0, kl = 0;
};

/// One sample per held-out prompt (the same seeds every time), scored, with
/// its log-ratio to the reference; writes DIR/eval-N.jsonl.
Evaluation evaluate(PPOTrainer &ppo, const Tokenizer &tokenizer,
                    const std::vector<std::vector<int32_t>> &prompts,
                    const Options &options, int64_t iteration) {
  std::vector<Response> responses =
      ppo.sample(prompts, options.settings.seed + 7777777u);
  std::vector<float> scores = ppo.score(responses);
  std::vector<double> kl = ppo.klToReference(responses);
  std::string lines;
  Evaluation mean;
  for (size_t i = 0; i < responses.size(); ++i) {
    std::ostringstream line;
    line.precision(6);
    std::vector<int32_t> prompt(responses[i].prompt.begin() + 1,
                                responses[i].prompt.end());
    line << "{\"iteration\": " << iteration
         << ", \"prompt_tokens\": " << prompt.size() << ", \"response\": "
         << quoteJson(decodeAnswer(tokenizer, responses[i].tokens))
         << ", \"score\": " << scores[i] << ", \"kl\": " << kl[i]
         << ", \"eos\": " << (responses[i].eos ? "true" : "false") << "}\n";
    lines += line.str();
    mean.score += scores[i] / double(responses.size());
    mean.kl += kl[i] / double(responses.size());
  }
  writeFileAtomically(
      options.out + "/eval-" + std::to_string(iteration) + ".jsonl", lines);
  std::fprintf(stderr, "iteration %lld: held-out score %.4f, KL %.4f\n",
               (long long)iteration, mean.score, mean.kl);
  return mean;
}

void dumpRollout(const std::string &path, const RolloutRecord &r, int64_t rows,
                 int64_t seq) {
  std::vector<float> tokens(r.tokens.begin(), r.tokens.end());
  std::vector<float> order(r.order.begin(), r.order.end());
  std::vector<float> mask = r.spans.mask();
  std::vector<int64_t> positions = {rows, seq};
  std::vector<TensorToWrite> tensors = {
      {"tokens", {rows, seq + 1}, tokens.data()},
      {"mask", positions, mask.data()},
      {"logprobs", positions, r.logprobs.data()},
      {"ref_logprobs", positions, r.refLogprobs.data()},
      {"values", positions, r.values.data()},
      {"entropy", positions, r.entropy.data()},
      {"kl", positions, r.kl.data()},
      {"rewards", positions, r.rewards.data()},
      {"raw_advantages", positions, r.rawAdvantages.data()},
      {"advantages", positions, r.advantages.data()},
      {"returns", positions, r.returns.data()},
      {"scores", {rows}, r.scores.data()},
      {"shaped_scores", {rows}, r.shapedScores.data()},
      {"order", {int64_t(order.size()) / rows, rows}, order.data()}};
  writeSafeTensors(path, tensors);
}

void saveRun(PPOTrainer &ppo, const std::string &dir, const std::string &csv) {
  makeDirectory(dir);
  ppo.policy().saveCheckpoint(dir + "/policy");
  ppo.value().saveCheckpoint(dir + "/value");
  writeFileAtomically(dir + "/ppo.csv", csv);
}

void plotRun(const std::string &dir) {
  plotWithGnuplot(
      "llama-ppo",
      "set xlabel 'iteration'; set ylabel 'reward-model score'; "
      "set y2label 'KL to the reference (nats)'; set ytics nomirror; "
      "set y2tics; set key left top; plot '" +
          dir +
          "/ppo.csv' using 1:2 with lines linewidth 2 title 'score', '' "
          "using 1:3 axes x1y2 with lines linewidth 2 title 'KL', '' using "
          "1:14 with points pointtype 7 title 'held-out score'",
      dir + "/ppo.png");
}

int run(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  Artifact policy(options.policy), value(options.value);
  if (options.threads) {
    policy.setThreads(options.threads);
    value.setThreads(options.threads);
  }
  if (!policy.isPPOPolicy())
    throw RuntimeError("'" + options.policy +
                       "' is not a PPO policy: compile it with llamac CONFIG "
                       "--ppo policy");
  RewardSource reward = openRewardSource(options, policy);
  std::unique_ptr<Tokenizer> tokenizer =
      openTokenizerFor(options.tokenizer, policy.shape().vocabSize);
  std::vector<std::vector<int32_t>> prompts;
  if (!options.prompts.empty())
    prompts = encodePrompts(options.prompts, *tokenizer);
  std::vector<std::vector<int32_t>> evalPrompts;
  if (!options.evalPrompts.empty())
    evalPrompts = encodePrompts(options.evalPrompts, *tokenizer);

  std::vector<Response> replay;
  if (!options.replay.empty()) {
    replay = loadReplay(options.replay, *tokenizer, policy.shape().vocabSize);
    options.rollout = int64_t(replay.size());
  }

  SafeTensors reference = SafeTensors::open(options.refWeights);
  BoundWeights referenceWeights(policy, reference);
  bool resume = !options.resume.empty();
  PPOTrainer ppo(policy,
                 resume
                     ? TrainState::resume(policy, options.resume + "/policy")
                     : TrainState::fromWeights(policy, options.policyWeights),
                 value,
                 resume ? TrainState::resume(value, options.resume + "/value")
                        : TrainState::fromPolicy(value, options.valueWeights,
                                                 options.settings.seed),
                 referenceWeights.pointers(), reward.scoreFn(),
                 options.settings, tokenizer->eosId());
  if (options.rollout % ppo.blockRows() != 0)
    throw RuntimeError("--rollout " + std::to_string(options.rollout) +
                       " is not a multiple of the artifacts' batch of " +
                       std::to_string(ppo.blockRows()) +
                       " rows (the mini-batch)");
  int64_t stepsPerIteration =
      options.settings.epochs * options.rollout / ppo.blockRows();
  int64_t done = ppo.policy().stepsDone() / stepsPerIteration;
  if (done >= options.iterations)
    throw RuntimeError("the run in '" + options.resume + "' already did " +
                       std::to_string(done) + " of --iterations " +
                       std::to_string(options.iterations));
  std::fprintf(stderr,
               "llama-ppo: %zu prompts, %lld responses per iteration, "
               "%lld steps of each model per iteration, beta %g, lr %g\n",
               replay.empty() ? prompts.size() : replay.size(),
               (long long)options.rollout, (long long)stepsPerIteration,
               options.settings.beta, double(options.settings.lr));

  std::string csv = "iteration,score,kl,reward,policy_loss,value_loss,"
                    "clip_fraction,approx_kl,value_clip_fraction,entropy,"
                    "response_length,eos_fraction,tokens_per_second,"
                    "eval_score,eval_kl\n";
  if (resume) {
    std::ifstream previous(options.resume + "/ppo.csv");
    std::stringstream text;
    text << previous.rdbuf();
    if (!text.str().empty())
      csv = text.str();
  }
  makeDirectory(options.out);
  if (!evalPrompts.empty() && !resume) {
    Evaluation eval = evaluate(ppo, *tokenizer, evalPrompts, options, 0);
    csv += "0,,,,,,,,,,,,," + std::to_string(eval.score) + "," +
           std::to_string(eval.kl) + "\n";
  }
  for (int64_t iteration = done + 1; iteration <= options.iterations;
       ++iteration) {
    RolloutRecord record;
    bool dump = !options.dumpRollout.empty() && iteration == done + 1;
    RolloutRecord *keep = dump ? &record : nullptr;
    PPOIterationStats s =
        replay.empty()
            ? ppo.iterate(promptsFrom(prompts,
                                      (iteration - 1) * options.rollout,
                                      options.rollout),
                          iteration - 1, keep)
            : ppo.learn(replay, iteration - 1, keep);
    if (dump)
      dumpRollout(options.dumpRollout, record, options.rollout, ppo.seq());
    double tokensPerSecond = s.tokens / (s.sampleSeconds + s.trainSeconds);
    std::fprintf(stderr,
                 "iteration %lld/%lld  score %.4f  kl %.4f  reward %.4f  "
                 "policy_loss %.4f  value_loss %.4f  clipfrac %.3f  "
                 "approx_kl %.5f  entropy %.3f  length %.1f  eos %.2f  "
                 "%.0f tok/s\n",
                 (long long)iteration, (long long)options.iterations, s.score,
                 s.kl, s.reward, s.policyLoss, s.valueLoss, s.clipFraction,
                 s.approxKl, s.entropy, s.responseLength, s.eosFraction,
                 tokensPerSecond);
    std::ostringstream line;
    line.precision(7);
    line << iteration << "," << s.score << "," << s.kl << "," << s.reward << ","
         << s.policyLoss << "," << s.valueLoss << "," << s.clipFraction << ","
         << s.approxKl << "," << s.valueClipFraction << "," << s.entropy << ","
         << s.responseLength << "," << s.eosFraction << "," << tokensPerSecond
         << ",";
    if (!evalPrompts.empty() && (iteration % options.evalEvery == 0 ||
                                 iteration == options.iterations)) {
      Evaluation eval =
          evaluate(ppo, *tokenizer, evalPrompts, options, iteration);
      line << eval.score << "," << eval.kl;
    } else {
      line << ",";
    }
    line << "\n";
    csv += line.str();
    if (options.saveEvery && iteration % options.saveEvery == 0 &&
        iteration != options.iterations)
      saveRun(ppo, options.out + "/checkpoint-" + std::to_string(iteration),
              csv);
  }
  saveRun(ppo, options.out, csv);
  plotRun(options.out);
  if (reward.cut)
    std::fprintf(stderr,
                 "llama-ppo: %lld sequences were longer than the reward "
                 "model's rows and scored at their last kept token\n",
                 (long long)reward.cut);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  return runTool("llama-ppo", run, argc, argv);
}
