//===- Trainer.cpp - a training run over a compiled train step ------------===//

#include "runtime/Trainer.h"

#include "runtime/Error.h"
#include "runtime/Model.h"
#include "runtime/SafeTensors.h"
#include "runtime/SafeTensorsWriter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>
#include <sys/stat.h>

namespace llamart {
namespace {

std::vector<float> toF32(const TensorView &tensor) {
  std::vector<float> values(tensor.numElements());
  convertToF32(tensor.dtype, tensor.data, values.data(), tensor.numElements());
  return values;
}

void zeroMoments(TrainState &state) {
  for (const auto &weight : state.weights) {
    state.adamM.emplace_back(weight.size(), 0.0f);
    state.adamV.emplace_back(weight.size(), 0.0f);
  }
}

std::vector<float *> pointers(std::vector<std::vector<float>> &tensors) {
  std::vector<float *> result;
  for (auto &tensor : tensors)
    result.push_back(tensor.data());
  return result;
}

/// A non-negative integer, the whole of `text`.
int64_t parseStep(const std::string &text, const std::string &where) {
  size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception &) {
  }
  if (value < 0 || used != text.size())
    throw RuntimeError(where + ": the step '" + text +
                       "' is not a non-negative integer");
  return value;
}

} // namespace

TrainState TrainState::random(const Artifact &artifact, uint64_t seed) {
  TrainState state;
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (const TensorSpec &spec : artifact.weights()) {
    std::vector<float> values(spec.numElements(), 1.0f);
    if (spec.shape.size() >= 2)
      for (float &value : values)
        value = normal(generator);
    state.weights.push_back(std::move(values));
  }
  zeroMoments(state);
  return state;
}

TrainState TrainState::fromWeights(const Artifact &artifact,
                                   const std::string &path) {
  TrainState state;
  SafeTensors checkpoint = SafeTensors::open(path);
  for (const TensorView *tensor : matchWeights(artifact, checkpoint))
    state.weights.push_back(toF32(*tensor));
  zeroMoments(state);
  return state;
}

TrainState TrainState::fromPolicy(const Artifact &artifact,
                                  const std::string &path, uint64_t seed) {
  SafeTensors checkpoint = SafeTensors::open(path);
  if (checkpoint.find(LLAMA_ABI_SCORE_WEIGHT))
    return fromWeights(artifact, path);
  TrainState state;
  std::mt19937_64 generator(seed);
  float std = 1.0f / float(artifact.shape().dim + 1);
  std::normal_distribution<float> normal(0.0f, std);
  for (const TensorSpec &spec : artifact.weights()) {
    if (spec.name == LLAMA_ABI_SCORE_WEIGHT) {
      std::vector<float> head(spec.numElements());
      for (float &value : head)
        value = normal(generator);
      state.weights.push_back(std::move(head));
      continue;
    }
    const TensorView *tensor = checkpoint.find(spec.name);
    if (!tensor)
      throw RuntimeError(path + ": the policy checkpoint has no '" + spec.name +
                         "'");
    if (tensor->shape != spec.shape)
      throw RuntimeError(tensor->file + ": '" + spec.name +
                         "' has another shape than the reward model's (a "
                         "policy of another config?)");
    state.weights.push_back(toF32(*tensor));
  }
  zeroMoments(state);
  return state;
}

TrainState TrainState::resume(const Artifact &artifact,
                              const std::string &dir) {
  TrainState state;
  state.weights = fromWeights(artifact, dir).weights;
  std::string path = dir + "/optimizer.safetensors";
  SafeTensors optimizer = SafeTensors::open(path);
  auto step = optimizer.metadata().find("step");
  if (step == optimizer.metadata().end())
    throw RuntimeError(path + ": no step in its metadata");
  state.step = parseStep(step->second, path);
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

Trainer::Trainer(const Artifact &artifact, TrainState initial)
    : artifact(artifact), entry(artifact.trainStep()),
      state(std::move(initial)) {
  const PPOEntries &ppo = artifact.ppoEntries();
  bool hasStep = artifact.isRewardModel()  ? bool(artifact.rewardEntries().step)
                 : artifact.isValueModel() ? bool(ppo.valueStep)
                 : artifact.isPPOPolicy()  ? bool(ppo.policyStep)
                                           : bool(entry.fn);
  if (!hasStep)
    throw RuntimeError("'" + artifact.description() +
                       "' has no training step: compile it with llamac "
                       "--train");
  weights = pointers(state.weights);
  adamM = pointers(state.adamM);
  adamV = pointers(state.adamV);
}

/// Whether the artifact is one of PPO's two models.
static bool isPPOModel(const Artifact &artifact) {
  return artifact.isValueModel() || artifact.isPPOPolicy();
}

int64_t Trainer::batch() const {
  if (isPPOModel(artifact))
    return artifact.ppoEntries().batch;
  return artifact.isRewardModel() ? artifact.rewardEntries().pairs()
                                  : entry.batch;
}

int64_t Trainer::seq() const {
  if (isPPOModel(artifact))
    return artifact.ppoEntries().seq;
  return artifact.isRewardModel() ? artifact.rewardEntries().seq : entry.seq;
}

template <typename Call> StepStats Trainer::timedStep(float lr, Call call) {
  float stepParams[2] = {lr, float(state.step + 1)};
  StepStats stats;
  auto start = std::chrono::steady_clock::now();
  call(stepParams, &stats.loss, &stats.gradNorm);
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ++state.step;
  return stats;
}

StepStats Trainer::step(const TrainRows &data, float lr) {
  std::vector<int32_t> tokens; // [batch, seq + 1]
  std::vector<float> mask;     // [batch, seq]
  fillBatch(data, state.step, entry.batch, tokens, mask);
  return timedStep(
      lr, [&](const float *stepParams, float *loss, float *gradNorm) {
        entry.fn(tokens.data(), mask.data(), stepParams, weights.data(),
                 adamM.data(), adamV.data(), loss, gradNorm);
      });
}

StepStats Trainer::step(const std::vector<PreferencePair> &pairs,
                        MarginSet margins, float lr) {
  const RewardEntries &reward = artifact.rewardEntries();
  int64_t count = reward.pairs();
  // Rows: the batch's chosen responses, then its rejected ones.
  ScoreRows rows(reward.rows, reward.seq);
  std::vector<float> pairMargins(count);
  for (int64_t i = 0; i < count; ++i) {
    const PreferencePair &pair =
        pairs[size_t((state.step * count + i) % int64_t(pairs.size()))];
    rows.put(i, pair.chosen);
    rows.put(count + i, pair.rejected);
    pairMargins[i] = margin(margins, pair.rating);
  }
  return timedStep(lr,
                   [&](const float *stepParams, float *loss, float *gradNorm) {
                     reward.step(rows.tokens.data(), rows.ends.data(),
                                 pairMargins.data(), stepParams, weights.data(),
                                 adamM.data(), adamV.data(), loss, gradNorm);
                   });
}

StepStats Trainer::step(const PPOBlock &block, const float *ppoParams,
                        float lr) {
  const PPOEntries &ppo = artifact.ppoEntries();
  if (!isPPOModel(artifact))
    throw RuntimeError("'" + artifact.description() +
                       "' is not a PPO model (llamac --ppo)");
  size_t positions = size_t(ppo.batch * ppo.seq);
  if (block.tokens.size() != size_t(ppo.batch * (ppo.seq + 1)) ||
      block.mask.size() != positions || block.old.size() != positions ||
      block.target.size() != positions)
    throw RuntimeError("a PPO block of another shape than the artifact's");
  float clipFraction = 0, approxKl = 0;
  StepStats stats =
      timedStep(lr, [&](const float *stepParams, float *loss, float *gradNorm) {
        if (artifact.isValueModel())
          ppo.valueStep(block.tokens.data(), block.mask.data(), ppoParams,
                        block.old.data(), block.target.data(), stepParams,
                        weights.data(), adamM.data(), adamV.data(), loss,
                        gradNorm, &clipFraction);
        else
          ppo.policyStep(block.tokens.data(), block.mask.data(), ppoParams,
                         block.old.data(), block.target.data(), stepParams,
                         weights.data(), adamM.data(), adamV.data(), loss,
                         gradNorm, &clipFraction, &approxKl);
      });
  stats.clipFraction = clipFraction;
  stats.approxKl = approxKl;
  return stats;
}

double Trainer::evaluate(const TrainRows &data) const {
  const TrainLossEntry &lossEntry = artifact.trainLoss();
  if (!lossEntry.fn)
    throw RuntimeError("the artifact has no loss entry point");
  // Each call returns its batch's mean over unmasked targets; weighted by
  // their count, the batches give the mean over all. Rows past the end are
  // repeats with their mask zeroed, so they count for nothing.
  double weightedSum = 0, targets = 0;
  std::vector<int32_t> tokens;
  std::vector<float> mask;
  int64_t batches = (data.rows() + entry.batch - 1) / entry.batch;
  for (int64_t index = 0; index < batches; ++index) {
    fillBatch(data, index, entry.batch, tokens, mask);
    int64_t past = (index + 1) * entry.batch - data.rows();
    if (past > 0)
      std::fill(mask.end() - past * data.seq, mask.end(), 0.0f);
    double count = 0;
    for (float value : mask)
      count += value;
    if (count == 0)
      continue;
    float loss = 0;
    lossEntry.fn(tokens.data(), mask.data(), weights.data(), &loss);
    weightedSum += double(loss) * count;
    targets += count;
  }
  return targets ? weightedSum / targets : std::nan("");
}

void Trainer::saveCheckpoint(const std::string &dir) const {
  makeDirectory(dir);
  std::vector<TensorToWrite> weightFiles, moments;
  const std::vector<TensorSpec> &specs = artifact.weights();
  for (size_t i = 0; i < specs.size(); ++i) {
    weightFiles.push_back(
        {specs[i].name, specs[i].shape, state.weights[i].data()});
    moments.push_back(
        {"adam_m." + specs[i].name, specs[i].shape, state.adamM[i].data()});
    moments.push_back(
        {"adam_v." + specs[i].name, specs[i].shape, state.adamV[i].data()});
  }
  writeFileAtomically(
      dir + "/config.json",
      hfConfigJson(artifact.shape(),
                   artifact.isRewardModel() || artifact.isValueModel()));
  writeSafeTensors(dir + "/model.safetensors", weightFiles);
  writeSafeTensors(dir + "/optimizer.safetensors", moments,
                   {{"step", std::to_string(state.step)}});
}

void Trainer::saveGradients(const std::string &path,
                            const TrainRows &data) const {
  const TrainGradEntry &gradEntry = artifact.trainGrad();
  if (!gradEntry.fn)
    throw RuntimeError("the artifact has no gradient entry point");
  std::vector<int32_t> tokens;
  std::vector<float> mask;
  fillBatch(data, 0, entry.batch, tokens, mask);
  std::vector<std::vector<float>> grads;
  for (const auto &weight : state.weights)
    grads.emplace_back(weight.size());
  std::vector<float *> gradPointers = pointers(grads);
  float loss = 0;
  gradEntry.fn(tokens.data(), mask.data(), weights.data(), gradPointers.data(),
               &loss);
  std::vector<TensorToWrite> tensors;
  const std::vector<TensorSpec> &specs = artifact.weights();
  for (size_t i = 0; i < specs.size(); ++i)
    tensors.push_back({specs[i].name, specs[i].shape, grads[i].data()});
  writeSafeTensors(path, tensors);
}

void printStep(int64_t step, int64_t steps, const StepStats &stats, float lr,
               double tokens) {
  std::fprintf(
      stderr,
      "step %lld/%lld  loss %.4f  grad_norm %.4f  lr %.3g  %.0f tok/s\n",
      (long long)step, (long long)steps, stats.loss, stats.gradNorm, lr,
      tokens / stats.seconds);
}

std::string lossCsvFields(int64_t step, const StepStats &stats, float lr) {
  std::ostringstream fields;
  fields.precision(9);
  fields << step << "," << stats.loss << "," << stats.gradNorm << "," << lr;
  return fields.str();
}

void makeDirectory(const std::string &dir) {
  ::mkdir(dir.c_str(), 0755);
  struct stat info;
  if (stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
    throw RuntimeError("cannot create the output directory '" + dir + "'");
}

std::string hfConfigJson(const ModelConfig &config, bool rewardModel) {
  std::ostringstream out;
  out.precision(17);
  out << "{\n  \"architectures\": [\""
      << (rewardModel ? "LlamaForSequenceClassification" : "LlamaForCausalLM")
      << "\"],\n";
  // One label: the scalar reward. The score is read at an explicit index,
  // so no pad token is involved; HF needs one to find it (the runtime's
  // padding id, 0).
  if (rewardModel)
    out << "  \"num_labels\": 1,\n  \"pad_token_id\": 0,\n";
  out << "  \"model_type\": \"llama\",\n  \"hidden_act\": \"silu\",\n"
      << "  \"hidden_size\": " << config.dim << ",\n"
      << "  \"intermediate_size\": " << config.hiddenDim << ",\n"
      << "  \"num_hidden_layers\": " << config.nLayers << ",\n"
      << "  \"num_attention_heads\": " << config.nHeads << ",\n"
      << "  \"num_key_value_heads\": " << config.nKvHeads << ",\n"
      << "  \"vocab_size\": " << config.vocabSize << ",\n"
      << "  \"max_position_embeddings\": " << config.seqLen << ",\n"
      << "  \"rms_norm_eps\": " << config.normEps << ",\n"
      << "  \"rope_theta\": " << config.ropeTheta << ",\n"
      << "  \"tie_word_embeddings\": "
      << (config.tieEmbeddings ? "true" : "false") << ",\n"
      << "  \"torch_dtype\": \"float32\"\n}\n";
  return out.str();
}

} // namespace llamart
