//===- Artifact.cpp - a compiled model library ----------------------------===//

#include "runtime/Artifact.h"

#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/Shape.h"

#include <dlfcn.h>

namespace llamart {

int64_t TensorSpec::numElements() const { return elementCount(shape); }

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

std::vector<TensorSpec> tensorList(const JsonValue &list,
                                   const std::string &where) {
  if (!list.isArray())
    throw RuntimeError(where + ": malformed tensor list in the manifest");
  std::vector<TensorSpec> specs;
  for (const JsonValue &entry : list.array) {
    TensorSpec spec;
    const JsonValue &name = member(entry, "name", where);
    const JsonValue &shape = member(entry, "shape", where);
    if (!name.isString() || !shape.isArray())
      throw RuntimeError(where + ": malformed tensor entry in the manifest");
    spec.name = name.string;
    for (const JsonValue &size : shape.array)
      spec.shape.push_back(size.integer);
    specs.push_back(std::move(spec));
  }
  return specs;
}

} // namespace

Artifact::Artifact(const std::string &path) {
  // A path without a slash would be searched for on the library path.
  std::string loadPath =
      path.find('/') == std::string::npos ? "./" + path : path;
  handle = dlopen(loadPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    throw RuntimeError("cannot load artifact '" + path + "': " + dlerror());
  auto *manifest = static_cast<const char *>(dlsym(handle, "llama_manifest"));
  if (!manifest)
    throw RuntimeError("'" + path +
                       "' is not a llamac artifact (no llama_manifest)");
  readManifest(manifest, path);
  for (auto [symbol, slot] :
       {std::pair<const std::string *, void **>{
            &trainSymbol, reinterpret_cast<void **>(&train.fn)},
        {&gradSymbol, reinterpret_cast<void **>(&grad.fn)}}) {
    if (symbol->empty())
      continue;
    *slot = dlsym(handle, symbol->c_str());
    if (!*slot)
      throw RuntimeError("'" + path + "' lacks its " + *symbol + " symbol");
  }
  prefillFn = reinterpret_cast<EntryPoint>(dlsym(handle, "llama_prefill"));
  decodeFn = reinterpret_cast<EntryPoint>(dlsym(handle, "llama_decode"));
  if (!prefillFn || !decodeFn)
    throw RuntimeError("'" + path + "' lacks llama_prefill or llama_decode");
}

Artifact::Artifact(const char *manifest, EntryPoint prefill, EntryPoint decode)
    : prefillFn(prefill), decodeFn(decode) {
  readManifest(manifest, "the built-in model");
}

void Artifact::readManifest(const char *manifest, const std::string &where) {
  JsonValue json = parseJson(manifest, where + " manifest");
  const JsonValue *format = json.find("format");
  const JsonValue *version = json.find("version");
  if (!format || format->string != "llamac-artifact" || !version ||
      version->integer != 1)
    throw RuntimeError("'" + where + "' has an unknown manifest format");

  const JsonValue &config = member(json, "config", where);
  model.dim = integerMember(config, "dim", where);
  model.hiddenDim = integerMember(config, "hidden_dim", where);
  model.nLayers = integerMember(config, "n_layers", where);
  model.nHeads = integerMember(config, "n_heads", where);
  model.nKvHeads = integerMember(config, "n_kv_heads", where);
  model.headDim = integerMember(config, "head_dim", where);
  model.vocabSize = integerMember(config, "vocab_size", where);
  model.seqLen = integerMember(config, "seq_len", where);
  model.normEps = member(config, "norm_eps", where).number;
  model.ropeTheta = member(config, "rope_theta", where).number;
  model.tieEmbeddings = member(config, "tie_embeddings", where).boolean;
  weightSpecs = tensorList(member(json, "weights", where), where);
  cacheSpecs = tensorList(member(json, "kv_caches", where), where);
  compilerVersion = member(json, "compiler", where).string;
  for (const JsonValue &entry : member(json, "entry_points", where).array) {
    const JsonValue *kind = entry.find("kind");
    if (kind && kind->string == "train_step") {
      train.batch = integerMember(entry, "batch", where);
      train.seq = integerMember(entry, "seq", where);
      trainSymbol = member(entry, "symbol", where).string;
    } else if (kind && kind->string == "train_grad") {
      gradSymbol = member(entry, "symbol", where).string;
    }
  }
}

Artifact::~Artifact() {
  if (handle)
    dlclose(handle);
}

} // namespace llamart
