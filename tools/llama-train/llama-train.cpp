//===- llama-train.cpp - train a model with its compiled training step ----===//
//
//   llama-train ARTIFACT (--weights PATH | --init-random SEED | --resume DIR)
//               --data FILE [--tokenizer M] [--loss-mask M.npy]
//               (--steps S | --epochs E) --out DIR [--lr LR] [--warmup W]
//               [--save-every K] [--save-grads FILE] [--batch B] [--seq T]
//               [--val-data FILE | --val-split F] [--eval-every K]
//
// ARTIFACT comes from `llamac CONFIG --train`; each optimizer step is one
// call of its llama_train_step (gradients, clipping, AdamW) through
// runtime/Trainer. This file holds the flags, the data checks and printing.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Error.h"
#include "runtime/SafeTensorsWriter.h"
#include "runtime/Schedule.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"
#include "runtime/Trainer.h"
#include "tools/common/Flags.h"
#include "tools/common/Plot.h"
#include "tools/common/ToolMain.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

using namespace llamart;

namespace {

const char *kUsage =
    "usage: llama-train ARTIFACT (--weights PATH | --init-random SEED | "
    "--resume DIR)\n"
    "                   --data FILE [--tokenizer tokenizer.model] [--loss-mask "
    "M.npy]\n"
    "                   (--steps S | --epochs E) --out DIR\n"
    "                   [--lr LR] [--warmup W] [--save-every K] [--save-grads "
    "FILE]\n"
    "                   [--batch B] [--seq T] [--val-data FILE | --val-split "
    "F]\n"
    "                   [--eval-every K] [-t THREADS]\n"
    "\n"
    "  ARTIFACT          a model library made by llamac CONFIG --train\n"
    "  --weights PATH    start from a safetensors file or HF model directory\n"
    "  --init-random S   start from HF's initialisation (normal 0.02, gains "
    "1), seed S\n"
    "  --data FILE       plain text: paragraphs become BOS + pieces + EOS, "
    "packed\n"
    "                    into rows of seq + 1 tokens; or .jsonl SFT records\n"
    "                    {\"prompt\": ..., \"answer\": ...}: BOS + prompt + "
    "\"\\n\" +\n"
    "                    answer + EOS, trained on the answer and EOS only; or "
    "a\n"
    "                    pre-tokenized int32 .npy [N, seq + 1]\n"
    "  --loss-mask FILE  with .npy data: a uint8 .npy [N, seq] loss mask\n"
    "  --tokenizer FILE  the sentencepiece model for --data\n"
    "  --steps S         optimizer steps (default: --epochs passes over the "
    "data)\n"
    "  --epochs E        passes over the data when --steps is not given "
    "(default 2)\n"
    "  --lr LR           peak learning rate (default 3e-4)\n"
    "  --warmup W        warmup steps of the Llama 2 schedule (default 2000,\n"
    "                    clamped to S); then cosine decay to 10 % of the peak\n"
    "  --out DIR         checkpoint: config.json + model.safetensors (what\n"
    "                    llama-run loads), optimizer.safetensors, loss.csv "
    "and\n"
    "                    loss.png (with gnuplot)\n"
    "  --save-every K    also checkpoint every K steps into DIR/checkpoint-K\n"
    "  --resume DIR      continue a run from its checkpoint (weights, Adam\n"
    "                    moments, step): the same result as never stopping\n"
    "  --save-grads FILE write the first batch's gradients (before clipping)\n"
    "                    under the weights' HF names, float32\n"
    "  --val-data FILE   held-out data in a --data format: its loss (over "
    "the unmasked\n"
    "                    targets) goes to loss.csv and loss.png next to the "
    "training loss\n"
    "  --val-split F     hold out the last share F of the rows instead\n"
    "  --eval-every K    validation every K steps (default: 20 times a run) "
    "and at the end\n"
    "  --batch B, --seq T  must match what the artifact was compiled for\n"
    "  -t THREADS        threads (default: all cores)\n";

struct Options {
  std::string artifact, weights, resume, saveGrads, data, lossMask, tokenizer,
      out, valData;
  double valSplit = 0;
  int64_t evalEvery = 0;
  bool initRandom = false;
  uint64_t seed = 0;
  int64_t steps = 0, epochs = 2, warmup = 2000, saveEvery = 0, batch = 0,
          seq = 0, threads = 0;
  double lr = 3e-4;
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
    } else if (arg == "--weights") {
      options.weights = value();
    } else if (arg == "--init-random") {
      options.initRandom = true;
      options.seed = uint64_t(parseInteger(arg, value(), 0));
    } else if (arg == "--resume") {
      options.resume = value();
    } else if (arg == "--save-grads") {
      options.saveGrads = value();
    } else if (arg == "--data") {
      options.data = value();
    } else if (arg == "--val-data") {
      options.valData = value();
    } else if (arg == "--val-split") {
      options.valSplit = parseNumber(arg, value(), 0, 1, false);
    } else if (arg == "--eval-every") {
      options.evalEvery = parseInteger(arg, value(), 1);
    } else if (arg == "--loss-mask") {
      options.lossMask = value();
    } else if (arg == "--epochs") {
      options.epochs = parseInteger(arg, value(), 1);
    } else if (arg == "--tokenizer") {
      options.tokenizer = value();
    } else if (arg == "--out") {
      options.out = value();
    } else if (arg == "--steps") {
      options.steps = parseInteger(arg, value(), 1);
    } else if (arg == "--warmup") {
      options.warmup = parseInteger(arg, value(), 0);
    } else if (arg == "--save-every") {
      options.saveEvery = parseInteger(arg, value(), 1);
    } else if (arg == "--batch") {
      options.batch = parseInteger(arg, value(), 1);
    } else if (arg == "--seq") {
      options.seq = parseInteger(arg, value(), 1);
    } else if (arg == "-t") {
      options.threads = parseInteger(arg, value(), 1);
    } else if (arg == "--lr") {
      options.lr = parseNumber(arg, value(), 0, 10, false);
    } else {
      takePositional(arg, {&options.artifact});
    }
  }
  if (options.artifact.empty())
    throw RuntimeError("no ARTIFACT given (see --help)");
  if (!options.valData.empty() && options.valSplit > 0)
    throw RuntimeError("give --val-data or --val-split, not both");
  if (int(options.initRandom) + int(!options.weights.empty()) +
          int(!options.resume.empty()) !=
      1)
    throw RuntimeError(
        "give exactly one of --weights, --init-random and --resume");
  requireFlags({{"--data", &options.data}, {"--out", &options.out}});
  return options;
}

/// DIR/loss.png from DIR/loss.csv.
void plotLoss(const std::string &dir, bool validation) {
  std::string script = "set key autotitle columnhead; set xlabel 'step'; "
                       "set ylabel 'loss'; plot '" +
                       dir +
                       "/loss.csv' using 1:2 with lines linewidth 2 title "
                       "'training loss'";
  if (validation)
    script += ", '' using 1:5 with linespoints linewidth 2 pointtype 7 title "
              "'validation loss'";
  plotWithGnuplot("llama-train", script, dir + "/loss.png");
}

int run(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  Artifact artifact(options.artifact);
  if (options.threads)
    artifact.setThreads(options.threads);
  const TrainStepEntry &entry = artifact.trainStep();
  if (!entry.fn)
    throw RuntimeError(
        "'" + options.artifact +
        "' has no training step: compile it with llamac --train");
  if (options.batch && options.batch != entry.batch)
    throw RuntimeError("--batch " + std::to_string(options.batch) +
                       " differs from the artifact's batch of " +
                       std::to_string(entry.batch) +
                       " (recompile with --batch)");
  if (options.seq && options.seq != entry.seq)
    throw RuntimeError("--seq " + std::to_string(options.seq) +
                       " differs from the artifact's sequence length of " +
                       std::to_string(entry.seq) + " (recompile with --seq)");

  std::unique_ptr<Tokenizer> tokenizer =
      openTokenizerFor(options.tokenizer, artifact.shape().vocabSize);
  TrainRows data =
      loadTrainData(options.data, options.lossMask, tokenizer.get(), entry.seq);
  for (int32_t id : data.tokens)
    if (id < 0 || id >= artifact.shape().vocabSize)
      throw RuntimeError("'" + options.data + "' holds token id " +
                         std::to_string(id) + ", outside the vocabulary [0, " +
                         std::to_string(artifact.shape().vocabSize) + ")");
  TrainRows validation;
  if (!options.valData.empty()) {
    validation = loadTrainData(options.valData, "", tokenizer.get(), entry.seq);
  } else if (options.valSplit > 0) {
    auto count = int64_t(options.valSplit * double(data.rows()) + 0.5);
    if (count == 0 || count >= data.rows())
      throw RuntimeError("--val-split " + std::to_string(options.valSplit) +
                         " of " + std::to_string(data.rows()) +
                         " rows leaves no validation or no training rows");
    validation = splitLastRows(data, count);
  }
  for (int32_t id : validation.tokens)
    if (id < 0 || id >= artifact.shape().vocabSize)
      throw RuntimeError("the validation data holds token id " +
                         std::to_string(id) + ", outside the vocabulary");
  // Without --steps, train --epochs passes over the data.
  if (options.steps == 0)
    options.steps =
        options.epochs * ((data.rows() + entry.batch - 1) / entry.batch);
  Trainer trainer(
      artifact, options.initRandom ? TrainState::random(artifact, options.seed)
                : options.resume.empty()
                    ? TrainState::fromWeights(artifact, options.weights)
                    : TrainState::resume(artifact, options.resume));
  int64_t warmup = std::min(options.warmup, options.steps);
  bool validate = validation.rows() > 0;
  int64_t evalEvery = options.evalEvery
                          ? options.evalEvery
                          : std::max<int64_t>(1, (options.steps + 19) / 20);
  std::fprintf(stderr,
               "llama-train: %lld rows of %lld tokens, batch %lld, %lld steps, "
               "peak lr %g, warmup %lld\n",
               (long long)data.rows(), (long long)entry.seq + 1,
               (long long)entry.batch, (long long)options.steps, options.lr,
               (long long)warmup);

  if (!options.saveGrads.empty())
    trainer.saveGradients(options.saveGrads, data);
  if (trainer.stepsDone() >= options.steps)
    throw RuntimeError("the run in '" + options.resume + "' already did " +
                       std::to_string(trainer.stepsDone()) + " of --steps " +
                       std::to_string(options.steps));
  // A resumed run appends to its loss curve.
  std::string csv = "step,loss,grad_norm,lr,val_loss\n";
  if (!options.resume.empty()) {
    std::ifstream previous(options.resume + "/loss.csv");
    std::stringstream text;
    text << previous.rdbuf();
    if (!text.str().empty())
      csv = text.str();
  }
  while (trainer.stepsDone() < options.steps) {
    float lr = float(
        learningRate(trainer.stepsDone(), options.steps, warmup, options.lr));
    StepStats stats = trainer.step(data, lr);
    int64_t step = trainer.stepsDone();
    printStep(step, options.steps, stats, lr, double(entry.batch * entry.seq));
    std::ostringstream line;
    line.precision(9);
    line << lossCsvFields(step, stats, lr) << ",";
    if (validate && (step % evalEvery == 0 || step == options.steps)) {
      double valLoss = trainer.evaluate(validation);
      std::fprintf(stderr, "step %lld: validation loss %.4f (%lld rows)\n",
                   (long long)step, valLoss, (long long)validation.rows());
      line << valLoss;
    }
    line << "\n";
    csv += line.str();
    if (step == options.steps) {
      trainer.saveCheckpoint(options.out);
      writeFileAtomically(options.out + "/loss.csv", csv);
      plotLoss(options.out, validate);
    } else if (options.saveEvery && step % options.saveEvery == 0) {
      std::string dir = options.out + "/checkpoint-" + std::to_string(step);
      makeDirectory(options.out);
      trainer.saveCheckpoint(dir);
      writeFileAtomically(dir + "/loss.csv", csv);
    }
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  return runTool("llama-train", run, argc, argv);
}
