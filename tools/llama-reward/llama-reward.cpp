//===- llama-reward.cpp - train and use a compiled reward model -----------===//
//
//   llama-reward train ARTIFACT --data PAIRS.jsonl --tokenizer M
//                      (--weights PATH | --init-random S | --resume DIR)
//                      --out DIR [--val-data FILE | --val-split F]
//                      [--margin none|small|large] [--epochs E | --steps S]
//                      [--lr LR] [--warmup W] [--eval-every K] [--seed S]
//                      [-t THREADS]
//   llama-reward score ARTIFACT --weights PATH --tokenizer M --data FILE
//                      [-t THREADS]
//
// ARTIFACT comes from `llamac CONFIG --reward [--train]`. Training steps are
// the artifact's compiled ranking-loss step through runtime/Trainer; this
// file holds the flags, the data split and the reports.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Model.h"
#include "runtime/Preferences.h"
#include "runtime/RewardModel.h"
#include "runtime/SafeTensors.h"
#include "runtime/SafeTensorsWriter.h"
#include "runtime/Schedule.h"
#include "runtime/Tokenizer.h"
#include "runtime/Trainer.h"
#include "tools/common/Flags.h"
#include "tools/common/ToolMain.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>

using namespace llamart;

namespace {

const char *kUsage =
    "usage: llama-reward train ARTIFACT --data PAIRS.jsonl --tokenizer M\n"
    "                          (--weights PATH | --init-random S | --resume "
    "DIR) --out DIR\n"
    "                          [--val-data FILE | --val-split F] [--margin "
    "none|small|large]\n"
    "                          [--epochs E | --steps S] [--lr LR] [--warmup "
    "W]\n"
    "                          [--eval-every K] [--seed S] [-t THREADS]\n"
    "       llama-reward score ARTIFACT --weights PATH --tokenizer M --data "
    "FILE [-t THREADS]\n"
    "\n"
    "  ARTIFACT          a reward model made by llamac CONFIG --reward "
    "(--train to train)\n"
    "  --data FILE       train: JSONL {\"prompt\", \"chosen\", \"rejected\", "
    "\"rating\"},\n"
    "                    rating one of: significantly better, better, "
    "slightly better,\n"
    "                    negligibly better (or unsure); score: JSONL "
    "{\"prompt\", \"response\"}\n"
    "                    or pairs as above. Each response is scored as BOS + "
    "prompt + \"\\n\" +\n"
    "                    response + EOS at its last token; a longer sequence "
    "is cut to the\n"
    "                    artifact's length and scored at its last kept token\n"
    "  --weights PATH    train: a policy checkpoint (HF layout; a fresh score "
    "head\n"
    "                    N(0, 1/(dim+1)) replaces its LM head) or a reward "
    "model's;\n"
    "                    score: the reward model's checkpoint\n"
    "  --init-random S   start from HF's initialisation with seed S\n"
    "  --resume DIR      continue a run from its checkpoint\n"
    "  --val-data FILE   held-out pairs (default: --val-split of --data)\n"
    "  --val-split F     share of the shuffled pairs held out (default 0.1)\n"
    "  --margin M        Llama 2 Table 27 margins: none, small (1, 2/3, 1/3, "
    "0; default)\n"
    "                    or large (3, 2, 1, 0) by rating\n"
    "  --epochs E        passes over the training pairs (default 1, as the "
    "paper)\n"
    "  --steps S         optimizer steps instead of --epochs\n"
    "  --lr LR           peak learning rate (default 1e-5, the paper's; "
    "small models\n"
    "                    want more)\n"
    "  --warmup W        warmup steps (default 3 % of the steps, at least 5); "
    "then cosine\n"
    "                    decay to 10 % of the peak\n"
    "  --eval-every K    also report held-out accuracy every K steps\n"
    "  --seed S          shuffles the pairs and draws the fresh head (default "
    "0)\n"
    "  --out DIR         checkpoint (config.json: "
    "LlamaForSequenceClassification,\n"
    "                    model.safetensors, optimizer.safetensors), loss.csv, "
    "accuracy.csv\n"
    "  -t THREADS        threads (default: all cores)\n";

struct Options {
  std::string command, artifact, data, valData, tokenizer, weights, resume, out,
      margin = "small";
  bool initRandom = false;
  uint64_t seed = 0, initSeed = 0;
  int64_t epochs = 1, steps = 0, warmup = -1, evalEvery = 0, threads = 0;
  double lr = 1e-5, valSplit = 0.1;
  bool valSplitGiven = false;
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
    } else if (arg == "--data") {
      options.data = value();
    } else if (arg == "--val-data") {
      options.valData = value();
    } else if (arg == "--val-split") {
      options.valSplit = parseNumber(arg, value(), 0, 1, false);
      options.valSplitGiven = true;
    } else if (arg == "--tokenizer") {
      options.tokenizer = value();
    } else if (arg == "--weights") {
      options.weights = value();
    } else if (arg == "--init-random") {
      options.initRandom = true;
      options.initSeed = uint64_t(parseInteger(arg, value(), 0));
    } else if (arg == "--resume") {
      options.resume = value();
    } else if (arg == "--out") {
      options.out = value();
    } else if (arg == "--margin") {
      options.margin = value();
    } else if (arg == "--epochs") {
      options.epochs = parseInteger(arg, value(), 1);
    } else if (arg == "--steps") {
      options.steps = parseInteger(arg, value(), 1);
    } else if (arg == "--lr") {
      options.lr = parseNumber(arg, value(), 0, 10, false);
    } else if (arg == "--warmup") {
      options.warmup = parseInteger(arg, value(), 0);
    } else if (arg == "--eval-every") {
      options.evalEvery = parseInteger(arg, value(), 1);
    } else if (arg == "--seed") {
      options.seed = uint64_t(parseInteger(arg, value(), 0));
    } else if (arg == "-t") {
      options.threads = parseInteger(arg, value(), 1);
    } else {
      takePositional(arg, {&options.command, &options.artifact});
    }
  }
  if (options.command != "train" && options.command != "score")
    throw RuntimeError("expected the command train or score (see --help)");
  if (options.artifact.empty())
    throw RuntimeError("no ARTIFACT given (see --help)");
  requireFlags(
      {{"--data", &options.data}, {"--tokenizer", &options.tokenizer}});
  return options;
}

/// The reward model of `options.artifact`, threads set; throws for any other
/// artifact.
std::unique_ptr<Artifact> openArtifact(const Options &options) {
  std::unique_ptr<Artifact> artifact = openRewardModel(options.artifact);
  if (options.threads)
    artifact->setThreads(options.threads);
  return artifact;
}

/// "0.8125 (64 pairs); significantly better 0.95 (20), better ..."
std::string describe(const PairAccuracy &accuracy) {
  std::ostringstream out;
  out.precision(4);
  int64_t all = 0;
  for (int64_t count : accuracy.total)
    all += count;
  out << accuracy.overall() << " (" << all << " pairs)";
  for (int level = 0; level < kNumRatings; ++level)
    if (accuracy.total[level])
      out << (level ? ", " : "; ") << ratingName(Rating(level)) << " "
          << accuracy.of(Rating(level)) << " (" << accuracy.total[level] << ")";
  return out.str();
}

std::string accuracyRow(int64_t step, const PairAccuracy &accuracy) {
  std::ostringstream line;
  line.precision(6);
  line << step << "," << accuracy.overall();
  for (int level = 0; level < kNumRatings; ++level) {
    line << ",";
    if (accuracy.total[level])
      line << accuracy.of(Rating(level));
  }
  return line.str() + "\n";
}

int countCut(const std::vector<PreferencePair> &pairs) {
  int cut = 0;
  for (const PreferencePair &pair : pairs)
    cut += pair.chosen.cut + pair.rejected.cut;
  return cut;
}

int train(const Options &options) {
  std::unique_ptr<Artifact> artifact = openArtifact(options);
  if (!artifact->rewardEntries().step)
    throw RuntimeError("'" + options.artifact +
                       "' has no training step: compile it with llamac "
                       "--reward --train");
  if (options.out.empty())
    throw RuntimeError("--out is required");
  if (int(options.initRandom) + int(!options.weights.empty()) +
          int(!options.resume.empty()) !=
      1)
    throw RuntimeError(
        "give exactly one of --weights, --init-random and --resume");
  if (!options.valData.empty() && options.valSplitGiven)
    throw RuntimeError("give --val-data or --val-split, not both");
  MarginSet margins = parseMarginSet(options.margin);
  int64_t seq = artifact->rewardEntries().seq;
  std::unique_ptr<Tokenizer> tokenizer =
      openTokenizerFor(options.tokenizer, artifact->shape().vocabSize);

  std::vector<PreferencePair> pairs =
      loadPreferences(options.data, *tokenizer, seq);
  std::mt19937_64 shuffle(options.seed);
  std::shuffle(pairs.begin(), pairs.end(), shuffle);
  std::vector<PreferencePair> heldOut;
  if (!options.valData.empty()) {
    heldOut = loadPreferences(options.valData, *tokenizer, seq);
  } else {
    auto count = size_t(std::llround(options.valSplit * double(pairs.size())));
    if (count == 0 || count >= pairs.size())
      throw RuntimeError("--val-split " + std::to_string(options.valSplit) +
                         " of " + std::to_string(pairs.size()) +
                         " pairs leaves no held-out or no training pairs");
    heldOut.assign(pairs.end() - count, pairs.end());
    pairs.resize(pairs.size() - count);
  }

  Trainer trainer(
      *artifact,
      options.initRandom ? TrainState::random(*artifact, options.initSeed)
      : options.resume.empty()
          ? TrainState::fromPolicy(*artifact, options.weights, options.seed)
          : TrainState::resume(*artifact, options.resume));
  int64_t steps =
      options.steps
          ? options.steps
          : options.epochs * ((int64_t(pairs.size()) + trainer.batch() - 1) /
                              trainer.batch());
  // The paper's warmup: 3 % of the steps, at least 5.
  int64_t warmup = std::min(
      options.warmup >= 0
          ? options.warmup
          : std::max<int64_t>(5, int64_t(std::llround(0.03 * double(steps)))),
      steps);
  if (trainer.stepsDone() >= steps)
    throw RuntimeError("the run in '" + options.resume + "' already did " +
                       std::to_string(trainer.stepsDone()) + " of " +
                       std::to_string(steps) + " steps");
  std::fprintf(stderr,
               "llama-reward: %zu training pairs, %zu held out, %d sequences "
               "cut at %lld tokens; %lld pairs a step, %lld steps, margins "
               "%s, peak lr %g, warmup %lld\n",
               pairs.size(), heldOut.size(),
               countCut(pairs) + countCut(heldOut), (long long)seq,
               (long long)trainer.batch(), (long long)steps,
               options.margin.c_str(), options.lr, (long long)warmup);

  std::string losses = "step,loss,grad_norm,lr\n";
  std::string accuracies = "step,accuracy,significantly_better,better,"
                           "slightly_better,negligibly_better\n";
  auto evaluate = [&](int64_t step) {
    PairAccuracy accuracy =
        pairAccuracy(*artifact, trainer.weightPointers(), heldOut);
    std::fprintf(stderr, "step %lld: held-out accuracy %s\n", (long long)step,
                 describe(accuracy).c_str());
    accuracies += accuracyRow(step, accuracy);
  };
  if (trainer.stepsDone() == 0)
    evaluate(0);
  while (trainer.stepsDone() < steps) {
    float lr =
        float(learningRate(trainer.stepsDone(), steps, warmup, options.lr));
    StepStats stats = trainer.step(pairs, margins, lr);
    int64_t step = trainer.stepsDone();
    printStep(step, steps, stats, lr,
              double(2 * trainer.batch() * trainer.seq()));
    losses += lossCsvFields(step, stats, lr) + "\n";
    if (step == steps || (options.evalEvery && step % options.evalEvery == 0))
      evaluate(step);
  }
  trainer.saveCheckpoint(options.out);
  writeFileAtomically(options.out + "/loss.csv", losses);
  writeFileAtomically(options.out + "/accuracy.csv", accuracies);
  return 0;
}

/// One line of a score file: a response, or a pair.
struct ScoreRecord {
  std::vector<ScoredSequence> sequences; // 1 or 2 (chosen, rejected)
};

std::vector<ScoreRecord> loadScoreRecords(const std::string &path,
                                          const Tokenizer &tokenizer,
                                          int64_t seq) {
  std::vector<ScoreRecord> records;
  forEachJsonLine(
      path, "responses", [&](const JsonValue &json, const std::string &where) {
        auto text = [&](const char *key) -> const JsonValue * {
          const JsonValue *value = json.isObject() ? json.find(key) : nullptr;
          return value && value->isString() ? value : nullptr;
        };
        const JsonValue *prompt = text("prompt");
        std::vector<const JsonValue *> responses = {text("response")};
        if (!responses[0])
          responses = {text("chosen"), text("rejected")};
        if (!prompt || !responses[0] ||
            (responses.size() == 2 && !responses[1]))
          throw RuntimeError(where + ": expected {\"prompt\", \"response\"} or "
                                     "{\"prompt\", \"chosen\", \"rejected\"} "
                                     "strings");
        ScoreRecord record;
        for (const JsonValue *response : responses) {
          if (response->string.find_first_not_of(" \t\r\n") ==
              std::string::npos)
            throw RuntimeError(where + ": empty response");
          record.sequences.push_back(
              scoredSequence(tokenizer, prompt->string, response->string, seq));
        }
        records.push_back(std::move(record));
      });
  if (records.empty())
    throw RuntimeError("'" + path + "' holds nothing to score");
  return records;
}

/// Prints one JSON line per record: {"reward": r} or {"chosen": r,
/// "rejected": r}, with "cut": true where a sequence was cut.
int score(const Options &options) {
  std::unique_ptr<Artifact> artifact = openArtifact(options);
  if (options.weights.empty())
    throw RuntimeError("--weights is required");
  std::unique_ptr<Tokenizer> tokenizer =
      openTokenizerFor(options.tokenizer, artifact->shape().vocabSize);
  std::vector<ScoreRecord> records =
      loadScoreRecords(options.data, *tokenizer, artifact->rewardEntries().seq);
  SafeTensors checkpoint = SafeTensors::open(options.weights);
  BoundWeights weights(*artifact, checkpoint);
  std::vector<const ScoredSequence *> sequences;
  for (const ScoreRecord &record : records)
    for (const ScoredSequence &sequence : record.sequences)
      sequences.push_back(&sequence);
  std::vector<float> rewards =
      scoreSequences(*artifact, weights.pointers(), sequences);
  size_t next = 0, pairs = 0, agreed = 0;
  for (const ScoreRecord &record : records) {
    bool cut = false;
    std::printf("{");
    if (record.sequences.size() == 1) {
      std::printf("\"reward\": %.6g", rewards[next]);
    } else {
      std::printf("\"chosen\": %.6g, \"rejected\": %.6g", rewards[next],
                  rewards[next + 1]);
      ++pairs;
      agreed += rewards[next] > rewards[next + 1];
    }
    for (const ScoredSequence &sequence : record.sequences)
      cut |= sequence.cut;
    next += record.sequences.size();
    std::printf("%s}\n", cut ? ", \"cut\": true" : "");
  }
  double mean = 0;
  for (float reward : rewards)
    mean += reward;
  std::fprintf(stderr, "llama-reward: %zu sequences, mean reward %.4f",
               rewards.size(), mean / double(rewards.size()));
  if (pairs)
    std::fprintf(stderr, "; chosen above rejected in %zu of %zu pairs", agreed,
                 pairs);
  std::fprintf(stderr, "\n");
  return 0;
}

int run(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  return options.command == "train" ? train(options) : score(options);
}

} // namespace

int main(int argc, char **argv) {
  return runTool("llama-reward", run, argc, argv);
}
