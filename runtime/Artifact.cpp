//===- Artifact.cpp - a compiled model library ----------------------------===//

#include "runtime/Artifact.h"

#include "runtime/Error.h"
#include "runtime/Json.h"

#include <climits>
#include <dlfcn.h>
#include <malloc.h>
#include <type_traits>

namespace llamart {

namespace {

const JsonValue &member(const JsonValue &object, const std::string &key,
                        const std::string &where) {
  const JsonValue *value = object.find(key);
  if (!value)
    throw RuntimeError(where + ": the manifest has no '" + key + "'");
  return *value;
}

int64_t integerMember(const JsonValue &object, const std::string &key,
                      const std::string &where) {
  const JsonValue &value = member(object, key, where);
  if (!value.isInteger || value.integer <= 0)
    throw RuntimeError(where + ": manifest field '" + key +
                       "' is not a positive integer");
  return value.integer;
}

/// object[key] when it is of the kind `is` tests; `what` names that kind.
const JsonValue &typedMember(const JsonValue &object, const std::string &key,
                             const std::string &where,
                             bool (JsonValue::*is)() const, const char *what) {
  const JsonValue &value = member(object, key, where);
  if (!(value.*is)())
    throw RuntimeError(where + ": manifest field '" + key + "' is not " + what);
  return value;
}

const std::string &stringMember(const JsonValue &object, const std::string &key,
                                const std::string &where) {
  return typedMember(object, key, where, &JsonValue::isString, "a string")
      .string;
}

const std::vector<JsonValue> &arrayMember(const JsonValue &object,
                                          const std::string &key,
                                          const std::string &where) {
  return typedMember(object, key, where, &JsonValue::isArray, "an array").array;
}

std::vector<TensorSpec> tensorList(const JsonValue &json,
                                   const std::string &key,
                                   const std::string &where) {
  std::vector<TensorSpec> specs;
  for (const JsonValue &entry : arrayMember(json, key, where)) {
    TensorSpec spec;
    spec.name = stringMember(entry, LLAMA_ABI_KEY_NAME, where);
    for (const JsonValue &size :
         arrayMember(entry, LLAMA_ABI_KEY_SHAPE, where)) {
      if (!size.isInteger || size.integer <= 0 || size.integer > INT32_MAX)
        throw RuntimeError(where + ": tensor '" + spec.name +
                           "' has a malformed shape in the manifest");
      spec.shape.push_back(size.integer);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

ModelConfig readConfig(const JsonValue &config, const std::string &where) {
  ModelConfig model;
  model.dim = integerMember(config, LLAMA_ABI_KEY_DIM, where);
  model.hiddenDim = integerMember(config, LLAMA_ABI_KEY_HIDDEN_DIM, where);
  model.nLayers = integerMember(config, LLAMA_ABI_KEY_N_LAYERS, where);
  model.nHeads = integerMember(config, LLAMA_ABI_KEY_N_HEADS, where);
  model.nKvHeads = integerMember(config, LLAMA_ABI_KEY_N_KV_HEADS, where);
  model.vocabSize = integerMember(config, LLAMA_ABI_KEY_VOCAB_SIZE, where);
  model.seqLen = integerMember(config, LLAMA_ABI_KEY_SEQ_LEN, where);
  model.normEps = typedMember(config, LLAMA_ABI_KEY_NORM_EPS, where,
                              &JsonValue::isNumber, "a number")
                      .number;
  model.ropeTheta = typedMember(config, LLAMA_ABI_KEY_ROPE_THETA, where,
                                &JsonValue::isNumber, "a number")
                        .number;
  model.tieEmbeddings = typedMember(config, LLAMA_ABI_KEY_TIE_EMBEDDINGS, where,
                                    &JsonValue::isBool, "a boolean")
                            .boolean;
  if (model.dim % model.nHeads != 0 || model.nHeads % model.nKvHeads != 0 ||
      integerMember(config, LLAMA_ABI_KEY_HEAD_DIM, where) != model.headDim())
    throw RuntimeError(where + ": the manifest's head counts do not divide "
                               "its dimensions");
  return model;
}

} // namespace

const EntryPointInfo *Manifest::findByName(const std::string &name) const {
  for (const EntryPointInfo &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

const EntryPointInfo *Manifest::findByKind(const std::string &kind) const {
  for (const EntryPointInfo &entry : entryPoints)
    if (entry.kind == kind)
      return &entry;
  return nullptr;
}

Manifest parseManifest(const char *text, const std::string &where) {
  JsonValue json = parseJson(text, where + " manifest");
  const JsonValue *format = json.find(LLAMA_ABI_KEY_FORMAT);
  const JsonValue *version = json.find(LLAMA_ABI_KEY_VERSION);
  if (!format || format->string != LLAMA_ABI_FORMAT)
    throw RuntimeError("'" + where + "' has an unknown manifest format");
  if (!version || !version->isInteger || version->integer != LLAMA_ABI_VERSION)
    throw RuntimeError(
        "'" + where + "' has manifest version " +
        (version && version->isInteger ? std::to_string(version->integer)
                                       : std::string("?")) +
        "; this runtime reads version " + std::to_string(LLAMA_ABI_VERSION) +
        " (recompile it with this llamac)");

  Manifest manifest;
  manifest.config =
      readConfig(member(json, LLAMA_ABI_KEY_CONFIG, where), where);
  manifest.weights = tensorList(json, LLAMA_ABI_KEY_WEIGHTS, where);
  manifest.kvCaches = tensorList(json, LLAMA_ABI_KEY_KV_CACHES, where);
  manifest.compiler = stringMember(json, LLAMA_ABI_KEY_COMPILER, where);
  manifest.weightType =
      parseManifestDType(stringMember(json, LLAMA_ABI_KEY_DTYPE, where), where);
  std::string target = stringMember(json, LLAMA_ABI_KEY_TARGET, where);
  if (target != LLAMA_ABI_TARGET_CPU && target != LLAMA_ABI_TARGET_NVIDIA)
    throw RuntimeError("'" + where + "' is for an unknown target '" + target +
                       "'");
  manifest.onGPU = target == LLAMA_ABI_TARGET_NVIDIA;
  for (const JsonValue &json :
       arrayMember(json, LLAMA_ABI_KEY_ENTRY_POINTS, where)) {
    EntryPointInfo entry;
    entry.name = stringMember(json, LLAMA_ABI_KEY_NAME, where);
    entry.symbol = stringMember(json, LLAMA_ABI_KEY_SYMBOL, where);
    entry.kind = stringMember(json, LLAMA_ABI_KEY_KIND, where);
    if (entry.kind != LLAMA_ABI_KIND_INFERENCE) {
      entry.batch = integerMember(json, LLAMA_ABI_KEY_BATCH, where);
      entry.seq = integerMember(json, LLAMA_ABI_KEY_SEQ, where);
    }
    manifest.entryPoints.push_back(std::move(entry));
  }
  return manifest;
}

namespace {

/// The generated code allocates its temporaries (activations, packed weight
/// blocks, the training step's [B * T, vocab] logits) on every call and frees
/// them before returning. Kept in the heap, they are reused; given back to the
/// kernel (glibc maps blocks over 128 KB with mmap and unmaps them on free),
/// every call faulted in and zeroed them again: 7 % of a stories110M training
/// step was the kernel's page faults.
void keepFreedMemoryForReuse() {
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
}

} // namespace

Artifact::Artifact(const std::string &path)
    : where(path.empty() ? "the built-in model" : path) {
  keepFreedMemoryForReuse();
  // A path without a slash would be searched for on the library path; no
  // path is this executable, which exports its model's symbols.
  std::string loadPath =
      path.find('/') == std::string::npos && !path.empty() ? "./" + path : path;
  handle =
      dlopen(path.empty() ? nullptr : loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw RuntimeError("cannot load artifact '" + path + "': " + dlerror());
  auto *text =
      static_cast<const char *>(dlsym(handle, LLAMA_ABI_MANIFEST_SYMBOL));
  if (!text)
    throw RuntimeError("'" + where + "' is not a llamac artifact (no " +
                       LLAMA_ABI_MANIFEST_SYMBOL + ")");
  manifest = parseManifest(text, where);

  if (const EntryPointInfo *entry = manifest.findByKind(LLAMA_ABI_KIND_SCORE)) {
    reward.score = reinterpret_cast<llama_score_fn>(lookup(*entry));
    reward.rows = entry->batch;
    reward.seq = entry->seq;
    if (reward.rows % 2 != 0)
      throw RuntimeError("'" + where + "' scores an odd number of rows (" +
                         std::to_string(reward.rows) + "), not pairs");
    if (const EntryPointInfo *step =
            manifest.findByKind(LLAMA_ABI_KIND_REWARD_STEP))
      reward.step = reinterpret_cast<llama_reward_step_fn>(lookup(*step));
    return;
  }
  // PPO: the block both models' entry points share.
  auto bindPPO = [&](const char *kind, auto &slot) {
    const EntryPointInfo *entry = manifest.findByKind(kind);
    if (!entry)
      throw RuntimeError("'" + where + "' lacks PPO's " + kind +
                         " entry point");
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(
        lookup(*entry));
    ppo.batch = entry->batch;
    ppo.seq = entry->seq;
  };
  if (manifest.findByKind(LLAMA_ABI_KIND_VALUES)) {
    bindPPO(LLAMA_ABI_KIND_VALUES, ppo.values);
    bindPPO(LLAMA_ABI_KIND_VALUE_STEP, ppo.valueStep);
    return;
  }
  if (manifest.findByKind(LLAMA_ABI_KIND_POLICY_STEP)) {
    bindPPO(LLAMA_ABI_KIND_LOGPROBS, ppo.logprobs);
    bindPPO(LLAMA_ABI_KIND_POLICY_STEP, ppo.policyStep);
  }
  for (auto [name, slot] : {std::pair<const char *, llama_inference_fn *>{
                                LLAMA_ABI_ENTRY_PREFILL, &prefillFn},
                            {LLAMA_ABI_ENTRY_DECODE, &decodeFn}}) {
    const EntryPointInfo *entry = manifest.findByName(name);
    if (!entry || entry->kind != LLAMA_ABI_KIND_INFERENCE)
      throw RuntimeError("'" + where + "' has no " + name + " entry point");
    *slot = reinterpret_cast<llama_inference_fn>(lookup(*entry));
  }
  if (const EntryPointInfo *entry =
          manifest.findByKind(LLAMA_ABI_KIND_TRAIN_STEP)) {
    train.fn = reinterpret_cast<llama_train_step_fn>(lookup(*entry));
    train.batch = entry->batch;
    train.seq = entry->seq;
  }
  if (const EntryPointInfo *entry =
          manifest.findByKind(LLAMA_ABI_KIND_TRAIN_GRAD))
    grad.fn = reinterpret_cast<llama_train_grad_fn>(lookup(*entry));
  if (const EntryPointInfo *entry =
          manifest.findByKind(LLAMA_ABI_KIND_TRAIN_LOSS))
    loss.fn = reinterpret_cast<llama_train_loss_fn>(lookup(*entry));
}

void *Artifact::lookup(const EntryPointInfo &entry) const {
  void *address = dlsym(handle, entry.symbol.c_str());
  if (!address)
    throw RuntimeError("'" + where + "' lacks its " + entry.symbol + " symbol");
  return address;
}

void Artifact::setThreads(int64_t threads) const {
  if (manifest.onGPU) // its host code only launches kernels: no threads
    return;
  auto set = reinterpret_cast<llama_set_threads_fn>(
      dlsym(handle, LLAMA_ABI_SET_THREADS_SYMBOL));
  if (!set)
    throw RuntimeError("'" + where + "' cannot set its thread count (no " +
                       LLAMA_ABI_SET_THREADS_SYMBOL + ")");
  set(int32_t(threads));
}

Artifact::~Artifact() {
  if (handle)
    dlclose(handle);
}

} // namespace llamart
