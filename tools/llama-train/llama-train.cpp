//===- llama-train.cpp - train a model with its compiled training step ----===//
//
//   llama-train ARTIFACT (--weights PATH | --init-random SEED) --data FILE
//               --tokenizer M --steps S --out DIR [--lr LR] [--warmup W]
//               [--save-every K] [--batch B] [--seq T]
//
// ARTIFACT comes from `llamac CONFIG --train`; each optimizer step is one
// call of its llama_train_step (gradients, clipping, AdamW).
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Error.h"
#include "runtime/Flags.h"
#include "runtime/Model.h"
#include "runtime/SafeTensors.h"
#include "runtime/SafeTensorsWriter.h"
#include "runtime/Schedule.h"
#include "runtime/Tokenizer.h"
#include "runtime/TrainData.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <sys/stat.h>

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
    "                   [--batch B] [--seq T] [-t THREADS]\n"
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
    "  --batch B, --seq T  must match what the artifact was compiled for\n"
    "  -t THREADS        threads (this release runs one)\n";

struct Options {
  std::string artifact, weights, resume, saveGrads, data, lossMask, tokenizer,
      out;
  bool initRandom = false;
  uint64_t seed = 0;
  int64_t steps = 0, epochs = 2, warmup = 2000, saveEvery = 0, batch = 0,
          seq = 0, threads = 1;
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
    } else if (!arg.empty() && arg[0] == '-') {
      throw RuntimeError("unknown option '" + arg + "' (see --help)");
    } else if (options.artifact.empty()) {
      options.artifact = arg;
    } else {
      throw RuntimeError("unexpected argument '" + arg + "' (see --help)");
    }
  }
  if (options.artifact.empty())
    throw RuntimeError("no ARTIFACT given (see --help)");
  if (int(options.initRandom) + int(!options.weights.empty()) +
          int(!options.resume.empty()) !=
      1)
    throw RuntimeError(
        "give exactly one of --weights, --init-random and --resume");
  for (auto [flag, value] :
       {std::pair<const char *, const std::string *>{"--data", &options.data},
        {"--out", &options.out}})
    if (value->empty())
      throw RuntimeError(std::string(flag) + " is required");
  return options;
}

/// The weights, Adam moments and steps done of a run, in manifest order.
struct TrainState {
  std::vector<std::vector<float>> weights, adamM, adamV;
  int64_t step = 0;
};

std::vector<float> toF32(const TensorView &tensor) {
  std::vector<float> values(tensor.numElements());
  convertToF32(tensor.dtype, tensor.data, values.data(), tensor.numElements());
  return values;
}

TrainState initialState(const Artifact &artifact, const Options &options) {
  TrainState state;
  if (options.initRandom) {
    // As transformers' LlamaPreTrainedModel._init_weights.
    std::mt19937_64 random(options.seed);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (const TensorSpec &spec : artifact.weights()) {
      std::vector<float> values(spec.numElements(), 1.0f);
      if (spec.shape.size() >= 2)
        for (float &value : values)
          value = normal(random);
      state.weights.push_back(std::move(values));
    }
  } else {
    SafeTensors checkpoint = SafeTensors::open(
        options.resume.empty() ? options.weights : options.resume);
    for (const TensorView *tensor : matchWeights(artifact, checkpoint))
      state.weights.push_back(toF32(*tensor));
  }
  if (options.resume.empty()) {
    for (const auto &weight : state.weights) {
      state.adamM.emplace_back(weight.size(), 0.0f);
      state.adamV.emplace_back(weight.size(), 0.0f);
    }
    return state;
  }
  std::string path = options.resume + "/optimizer.safetensors";
  SafeTensors optimizer = SafeTensors::open(path);
  auto step = optimizer.metadata().find("step");
  if (step == optimizer.metadata().end())
    throw RuntimeError(path + ": no step in its metadata");
  state.step = parseInteger(path + " step", step->second, 0);
  for (const TensorSpec &spec : artifact.weights())
    for (auto [prefix, moments] :
         {std::pair<const char *, std::vector<std::vector<float>> *>{
              "adam_m.", &state.adamM},
          {"adam_v.", &state.adamV}}) {
      const TensorView *tensor = optimizer.find(prefix + spec.name);
      if (!tensor || tensor->shape != spec.shape)
        throw RuntimeError(path + ": missing or misshapen '" + prefix +
                           spec.name + "'");
      moments->push_back(toF32(*tensor));
    }
  return state;
}

std::string hfConfigJson(const ModelConfig &shape) {
  std::ostringstream out;
  out.precision(17);
  out << "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n"
      << "  \"model_type\": \"llama\",\n  \"hidden_act\": \"silu\",\n"
      << "  \"hidden_size\": " << shape.dim << ",\n"
      << "  \"intermediate_size\": " << shape.hiddenDim << ",\n"
      << "  \"num_hidden_layers\": " << shape.nLayers << ",\n"
      << "  \"num_attention_heads\": " << shape.nHeads << ",\n"
      << "  \"num_key_value_heads\": " << shape.nKvHeads << ",\n"
      << "  \"vocab_size\": " << shape.vocabSize << ",\n"
      << "  \"max_position_embeddings\": " << shape.seqLen << ",\n"
      << "  \"rms_norm_eps\": " << shape.normEps << ",\n"
      << "  \"rope_theta\": " << shape.ropeTheta << ",\n"
      << "  \"tie_word_embeddings\": "
      << (shape.tieEmbeddings ? "true" : "false") << ",\n"
      << "  \"torch_dtype\": \"float32\"\n}\n";
  return out.str();
}

/// config.json + model.safetensors (HF layout, what llama-run loads) and the
/// optimizer state, each written atomically.
void makeDirectory(const std::string &dir) {
  ::mkdir(dir.c_str(), 0755);
  struct stat info;
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw RuntimeError("cannot create the output directory '" + dir + "'");
}

void saveCheckpoint(const std::string &dir, const Artifact &artifact,
                    const TrainState &state, int64_t step) {
  makeDirectory(dir);
  std::vector<TensorToWrite> weights, moments;
  const std::vector<TensorSpec> &specs = artifact.weights();
  for (size_t i = 0; i < specs.size(); ++i) {
    weights.push_back({specs[i].name, specs[i].shape, state.weights[i].data()});
    moments.push_back(
        {"adam_m." + specs[i].name, specs[i].shape, state.adamM[i].data()});
    moments.push_back(
        {"adam_v." + specs[i].name, specs[i].shape, state.adamV[i].data()});
  }
  writeFileAtomically(dir + "/config.json", hfConfigJson(artifact.shape()));
  writeSafeTensors(dir + "/model.safetensors", weights);
  writeSafeTensors(dir + "/optimizer.safetensors", moments,
                   {{"step", std::to_string(step)}});
}

/// DIR/loss.png from DIR/loss.csv with gnuplot (Debian's gnuplot-nox);
/// without gnuplot the CSV is all there is, and we say so.
void plotLoss(const std::string &dir) {
  std::string script =
      "set terminal pngcairo size 800,500; set output '" + dir +
      "/loss.png'; set datafile separator ','; set key autotitle "
      "columnhead; set xlabel 'step'; set ylabel 'loss'; set grid; plot '" +
      dir + "/loss.csv' using 1:2 with lines linewidth 2 title 'training loss'";
  FILE *gnuplot = popen("gnuplot 2>/dev/null", "w");
  if (gnuplot) {
    std::fputs(script.c_str(), gnuplot);
    if (pclose(gnuplot) == 0)
      return;
  }
  std::fprintf(stderr,
               "llama-train: note: gnuplot failed or is missing; "
               "no %s/loss.png\n",
               dir.c_str());
}

/// --save-grads: the gradients of the first batch, before clipping.
void saveGradients(const std::string &path, const Artifact &artifact,
                   TrainState &state, const TrainRows &data) {
  const TrainGradEntry &entry = artifact.trainGrad();
  if (!entry.fn)
    throw RuntimeError("the artifact has no gradient entry point");
  std::vector<int32_t> tokens;
  std::vector<float> mask;
  fillBatch(data, 0, artifact.trainStep().batch, tokens, mask);
  std::vector<std::vector<float>> grads;
  std::vector<float *> gradPointers, weightPointers;
  for (auto &weight : state.weights) {
    grads.emplace_back(weight.size());
    gradPointers.push_back(grads.back().data());
    weightPointers.push_back(weight.data());
  }
  float loss = 0;
  entry.fn(tokens.data(), mask.data(), weightPointers.data(),
           gradPointers.data(), &loss);
  std::vector<TensorToWrite> tensors;
  const std::vector<TensorSpec> &specs = artifact.weights();
  for (size_t i = 0; i < specs.size(); ++i)
    tensors.push_back({specs[i].name, specs[i].shape, grads[i].data()});
  writeSafeTensors(path, tensors);
}

int run(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  if (options.threads != 1)
    std::cerr << "llama-train: note: this release runs on one thread\n";
  Artifact artifact(options.artifact);
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

  std::unique_ptr<Tokenizer> tokenizer;
  if (!options.tokenizer.empty()) {
    tokenizer = std::make_unique<Tokenizer>(options.tokenizer);
    if (tokenizer->vocabSize() > artifact.shape().vocabSize)
      throw RuntimeError("the tokenizer has " +
                         std::to_string(tokenizer->vocabSize()) +
                         " pieces but the model's vocabulary is " +
                         std::to_string(artifact.shape().vocabSize));
  }
  TrainRows data =
      loadTrainData(options.data, options.lossMask, tokenizer.get(), entry.seq);
  for (int32_t id : data.tokens)
    if (id < 0 || id >= artifact.shape().vocabSize)
      throw RuntimeError("'" + options.data + "' holds token id " +
                         std::to_string(id) + ", outside the vocabulary [0, " +
                         std::to_string(artifact.shape().vocabSize) + ")");
  // Without --steps, train --epochs passes over the data.
  if (options.steps == 0)
    options.steps =
        options.epochs * ((data.rows() + entry.batch - 1) / entry.batch);
  TrainState state = initialState(artifact, options);
  auto pointers = [](std::vector<std::vector<float>> &tensors) {
    std::vector<float *> result;
    for (auto &tensor : tensors)
      result.push_back(tensor.data());
    return result;
  };
  std::vector<float *> weights = pointers(state.weights),
                       adamM = pointers(state.adamM),
                       adamV = pointers(state.adamV);
  int64_t warmup = std::min(options.warmup, options.steps);
  std::fprintf(stderr,
               "llama-train: %lld rows of %lld tokens, batch %lld, %lld steps, "
               "peak lr %g, warmup %lld\n",
               (long long)data.rows(), (long long)entry.seq + 1,
               (long long)entry.batch, (long long)options.steps, options.lr,
               (long long)warmup);

  std::vector<int32_t> tokens;
  std::vector<float> mask;
  if (!options.saveGrads.empty())
    saveGradients(options.saveGrads, artifact, state, data);
  if (state.step >= options.steps)
    throw RuntimeError("the run in '" + options.resume + "' already did " +
                       std::to_string(state.step) + " of --steps " +
                       std::to_string(options.steps));
  // A resumed run appends to its loss curve.
  std::string csv = "step,loss,grad_norm,lr\n";
  if (!options.resume.empty()) {
    std::ifstream previous(options.resume + "/loss.csv");
    std::stringstream text;
    text << previous.rdbuf();
    if (!text.str().empty())
      csv = text.str();
  }
  for (int64_t step = state.step; step < options.steps; ++step) {
    fillBatch(data, step, entry.batch, tokens, mask);
    float lr = float(learningRate(step, options.steps, warmup, options.lr));
    float stepParams[2] = {lr, float(step + 1)};
    float loss = 0, norm = 0;
    auto start = std::chrono::steady_clock::now();
    entry.fn(tokens.data(), mask.data(), stepParams, weights.data(),
             adamM.data(), adamV.data(), &loss, &norm);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::fprintf(
        stderr,
        "step %lld/%lld  loss %.4f  grad_norm %.4f  lr %.3g  %.0f tok/s\n",
        (long long)step + 1, (long long)options.steps, loss, norm, lr,
        double(entry.batch * entry.seq) / seconds);
    std::ostringstream line;
    line.precision(9);
    line << step + 1 << "," << loss << "," << norm << "," << lr << "\n";
    csv += line.str();
    bool last = step + 1 == options.steps;
    if (last) {
      saveCheckpoint(options.out, artifact, state, step + 1);
      writeFileAtomically(options.out + "/loss.csv", csv);
      plotLoss(options.out);
    } else if (options.saveEvery && (step + 1) % options.saveEvery == 0) {
      std::string dir = options.out + "/checkpoint-" + std::to_string(step + 1);
      makeDirectory(options.out);
      saveCheckpoint(dir, artifact, state, step + 1);
      writeFileAtomically(dir + "/loss.csv", csv);
    }
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const RuntimeError &error) {
    std::cerr << "llama-train: error: " << error.what() << "\n";
    return 1;
  } catch (const std::bad_alloc &) {
    std::cerr << "llama-train: error: out of memory\n";
    return 1;
  }
}
