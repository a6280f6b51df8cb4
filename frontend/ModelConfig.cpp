//===- ModelConfig.cpp - reading and validating model descriptions --------===//

#include "frontend/ModelConfig.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <optional>

using namespace llvm;

namespace llamac {
namespace {

//===----------------------------------------------------------------------===//
// Presets
//===----------------------------------------------------------------------===//

struct Preset {
  StringRef name;
  ModelConfig config;
};

ModelConfig makeConfig(int64_t dim, int64_t hiddenDim, int64_t nLayers,
                       int64_t nHeads, int64_t nKvHeads, int64_t vocabSize,
                       int64_t seqLen, bool tieEmbeddings) {
  ModelConfig config;
  config.dim = dim;
  config.hiddenDim = hiddenDim;
  config.nLayers = nLayers;
  config.nHeads = nHeads;
  config.nKvHeads = nKvHeads;
  config.vocabSize = vocabSize;
  config.seqLen = seqLen;
  config.normEps = 1e-5;
  config.ropeTheta = 10000.0;
  config.tieEmbeddings = tieEmbeddings;
  return config;
}

// The published shapes: Llama 2 (Touvron et al. 2023, Table 1 and the
// released params.json files), TinyLlama-1.1B's config.json, and a tiny model
// for tests (GQA, odd-sized FFN, tied embeddings).
const Preset kPresets[] = {
    //          dim   hidden  layers heads kv  vocab  seq   tied
    {"llama2-7b", makeConfig(4096, 11008, 32, 32, 32, 32000, 4096, false)},
    {"llama2-13b", makeConfig(5120, 13824, 40, 40, 40, 32000, 4096, false)},
    {"llama2-70b", makeConfig(8192, 28672, 80, 64, 8, 32000, 4096, false)},
    {"tinyllama-1.1b", makeConfig(2048, 5632, 22, 32, 4, 32000, 2048, false)},
    {"tiny", makeConfig(64, 172, 2, 4, 2, 512, 256, true)},
};

//===----------------------------------------------------------------------===//
// Reading fields
//===----------------------------------------------------------------------===//

/// Sizes beyond this are refused so that products of them cannot overflow.
constexpr int64_t kMaxSize = 2147483647;

const char *kindName(const json::Value &value) {
  switch (value.kind()) {
  case json::Value::Null:
    return "null";
  case json::Value::Boolean:
    return "a boolean";
  case json::Value::Number:
    return "a number";
  case json::Value::String:
    return "a string";
  case json::Value::Array:
    return "an array";
  case json::Value::Object:
    return "an object";
  }
  llvm_unreachable("unknown JSON kind");
}

/// Reads the fields of one JSON object. The first problem is kept as the
/// error (naming the source file and the field); later reads then return
/// their fallback, so a parser reads every field and checks once at the end.
class FieldReader {
public:
  FieldReader(const json::Object &object, StringRef source)
      : object(object), source(source.str()) {}

  /// The field, or null when it is absent or JSON null (HF writes
  /// `"rope_scaling": null` for "none").
  const json::Value *find(StringRef key) const {
    const json::Value *value = object.get(key);
    return value && value->kind() != json::Value::Null ? value : nullptr;
  }

  int64_t positiveInt(StringRef key) {
    if (!find(key)) {
      fail("missing field '" + key + "'");
      return 0;
    }
    return positiveInt(key, 0);
  }

  int64_t positiveInt(StringRef key, int64_t fallback) {
    const json::Value *value = find(key);
    if (!value)
      return fallback;
    std::optional<int64_t> integer = value->getAsInteger();
    if (!integer) {
      fail("field '" + key + "' must be an integer, got " + describe(*value));
      return fallback;
    }
    if (*integer <= 0 || *integer > kMaxSize) {
      fail("field '" + key + "' must be a positive integer (at most " +
           Twine(kMaxSize) + "), got " + Twine(*integer));
      return fallback;
    }
    return *integer;
  }

  double positiveNumber(StringRef key, double fallback) {
    const json::Value *value = find(key);
    if (!value)
      return fallback;
    return positiveNumber(key, *value, fallback);
  }

  double positiveNumber(StringRef key, const json::Value &value,
                        double fallback) {
    std::optional<double> number = value.getAsNumber();
    if (!number) {
      fail("field '" + key + "' must be a number, got " + describe(value));
      return fallback;
    }
    if (!(*number > 0.0) || !std::isfinite(*number)) {
      fail("field '" + key + "' must be positive, got " + describe(value));
      return fallback;
    }
    return *number;
  }

  bool boolean(StringRef key, bool fallback) {
    const json::Value *value = find(key);
    if (!value)
      return fallback;
    if (std::optional<bool> b = value->getAsBoolean())
      return *b;
    fail("field '" + key + "' must be true or false, got " + describe(*value));
    return fallback;
  }

  /// A string field that, when present, must be one of `allowed`.
  void expectOneOf(StringRef key, ArrayRef<StringRef> allowed, StringRef what) {
    const json::Value *value = find(key);
    if (!value)
      return;
    std::optional<StringRef> name = value->getAsString();
    if (!name) {
      fail("field '" + key + "' must be a string, got " + describe(*value));
      return;
    }
    if (!is_contained(allowed, *name))
      fail(key + " '" + *name + "' is not supported: " + what);
  }

  /// A boolean field that must be false when present.
  void expectFalse(StringRef key, StringRef what) {
    if (boolean(key, false))
      fail(key + " = true is not supported: " + what);
  }

  void fail(const Twine &message) {
    if (!firstError)
      firstError = source + ": " + message.str();
  }

  Error takeError() {
    if (!firstError)
      return Error::success();
    return createStringError(inconvertibleErrorCode(), *firstError);
  }

  /// The value as it reads in the file, shortened to one line.
  static std::string text(const json::Value &value) {
    std::string printed = formatv("{0}", value).str();
    if (printed.size() > 40)
      printed = printed.substr(0, 37) + "...";
    return printed;
  }

  /// What the value is, for "must be an integer, got a string ("4096")".
  static std::string describe(const json::Value &value) {
    return std::string(kindName(value)) + " (" + text(value) + ")";
  }

  const json::Object &object;
  std::string source;

private:
  std::optional<std::string> firstError;
};

Expected<json::Object> parseObject(StringRef text, StringRef source) {
  Expected<json::Value> value = json::parse(text);
  if (!value)
    return createStringError(
        inconvertibleErrorCode(),
        source + ": invalid JSON: " + toString(value.takeError()));
  json::Object *object = value->getAsObject();
  if (!object)
    return createStringError(inconvertibleErrorCode(),
                             source + ": expected a JSON object, got " +
                                 FieldReader::describe(*value));
  return std::move(*object);
}

/// Field names of one format, so that shape errors speak the file's language.
struct ShapeFieldNames {
  StringRef dim, nHeads, nKvHeads;
};

/// Rules that involve several fields: head counts must divide evenly and
/// RoPE rotates pairs, so head_dim must be even.
void checkShapes(const ModelConfig &config, const ShapeFieldNames &names,
                 FieldReader &fields) {
  if (config.dim % config.nHeads != 0)
    return fields.fail(names.dim + " (" + Twine(config.dim) +
                       ") is not divisible by " + names.nHeads + " (" +
                       Twine(config.nHeads) + ")");
  if (config.nHeads % config.nKvHeads != 0)
    return fields.fail(names.nHeads + " (" + Twine(config.nHeads) +
                       ") is not divisible by " + names.nKvHeads + " (" +
                       Twine(config.nKvHeads) + ")");
  if (config.headDim() % 2 != 0)
    return fields.fail("head_dim (" + names.dim + " / " + names.nHeads + " = " +
                       Twine(config.headDim()) +
                       ") must be even for rotary embeddings");
}

/// A rope scaling/parameters object is accepted only when it asks for plain
/// RoPE: compiling a scaled model as if it were plain would be wrong.
void checkRopeType(const json::Value &rope, StringRef key,
                   FieldReader &fields) {
  const json::Object *object = rope.getAsObject();
  if (!object)
    return fields.fail("field '" + key + "' must be an object, got " +
                       FieldReader::describe(rope));
  for (StringRef typeKey : {"rope_type", "type"}) {
    const json::Value *type = object->get(typeKey);
    if (!type || type->kind() == json::Value::Null)
      continue;
    std::optional<StringRef> name = type->getAsString();
    if (name && *name == "default")
      continue;
    return fields.fail(key + "." + typeKey + " " + FieldReader::text(*type) +
                       " is not supported: llamac implements plain RoPE");
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Formats
//===----------------------------------------------------------------------===//

int64_t metaHiddenDim(int64_t dim, int64_t multipleOf,
                      double ffnDimMultiplier) {
  // As in Meta's llama/model.py FeedForward.__init__.
  int64_t hidden = 4 * dim;
  hidden = static_cast<int64_t>(2 * hidden / 3);
  if (ffnDimMultiplier > 0)
    hidden = static_cast<int64_t>(ffnDimMultiplier * hidden);
  return multipleOf * ((hidden + multipleOf - 1) / multipleOf);
}

Expected<ModelConfig> parseHFConfig(StringRef text, StringRef source) {
  Expected<json::Object> object = parseObject(text, source);
  if (!object)
    return object.takeError();
  FieldReader fields(*object, source);

  if (const json::Value *archs = fields.find("architectures")) {
    const json::Array *list = archs->getAsArray();
    // A reward model's checkpoint (llama-reward) is the same decoder with a
    // scalar head: llamac compiles it with --reward.
    bool isLlama =
        list && any_of(*list, [](const json::Value &arch) {
          return arch.getAsString() == StringRef("LlamaForCausalLM") ||
                 arch.getAsString() ==
                     StringRef("LlamaForSequenceClassification");
        });
    if (!isLlama)
      fields.fail("architectures " + FieldReader::text(*archs) +
                  " is not supported: llamac compiles LlamaForCausalLM "
                  "(and LlamaForSequenceClassification with --reward)");
  }
  fields.expectOneOf("model_type", {"llama"}, "llamac compiles Llama models");
  fields.expectOneOf("hidden_act", {"silu"}, "Llama's SwiGLU uses silu");
  fields.expectFalse("attention_bias", "Llama projections have no bias");
  fields.expectFalse("mlp_bias", "Llama projections have no bias");
  for (StringRef key : {"torch_dtype", "dtype"})
    fields.expectOneOf(key, {"float32", "bfloat16", "float16"},
                       "weights must be float32, bfloat16 or float16");
  if (const json::Value *scaling = fields.find("rope_scaling"))
    checkRopeType(*scaling, "rope_scaling", fields);

  ModelConfig config;
  config.dim = fields.positiveInt("hidden_size");
  config.hiddenDim = fields.positiveInt("intermediate_size");
  config.nLayers = fields.positiveInt("num_hidden_layers");
  config.nHeads = fields.positiveInt("num_attention_heads");
  config.nKvHeads = fields.positiveInt("num_key_value_heads", config.nHeads);
  config.vocabSize = fields.positiveInt("vocab_size");
  config.seqLen = fields.positiveInt("max_position_embeddings");
  config.normEps = fields.positiveNumber("rms_norm_eps", 1e-6);
  config.ropeTheta = fields.positiveNumber("rope_theta", 10000.0);
  // Newer transformers move rope_theta into rope_parameters.
  if (const json::Value *params = fields.find("rope_parameters")) {
    checkRopeType(*params, "rope_parameters", fields);
    if (const json::Object *object = params->getAsObject())
      if (const json::Value *theta = object->get("rope_theta"))
        config.ropeTheta = fields.positiveNumber("rope_parameters.rope_theta",
                                                 *theta, config.ropeTheta);
  }
  config.tieEmbeddings = fields.boolean("tie_word_embeddings", false);
  if (Error error = fields.takeError())
    return std::move(error);

  checkShapes(config,
              {"hidden_size", "num_attention_heads", "num_key_value_heads"},
              fields);
  if (fields.find("head_dim")) {
    int64_t headDim = fields.positiveInt("head_dim", config.headDim());
    if (headDim != config.headDim())
      fields.fail("head_dim (" + Twine(headDim) +
                  ") differs from hidden_size / num_attention_heads (" +
                  Twine(config.headDim()) + "), which llamac requires");
  }
  if (Error error = fields.takeError())
    return std::move(error);
  return config;
}

Expected<ModelConfig> parseMetaParams(StringRef text, StringRef source) {
  Expected<json::Object> object = parseObject(text, source);
  if (!object)
    return object.takeError();
  FieldReader fields(*object, source);

  if (fields.boolean("use_scaled_rope", false))
    fields.fail("use_scaled_rope = true is not supported: llamac implements "
                "plain RoPE");
  if (const json::Value *vocab = fields.find("vocab_size"))
    if (vocab->getAsInteger() == -1)
      fields.fail("vocab_size is -1 (Meta's code takes it from the "
                  "tokenizer): write the real vocabulary size into the file");

  ModelConfig config;
  config.dim = fields.positiveInt("dim");
  config.nLayers = fields.positiveInt("n_layers");
  config.nHeads = fields.positiveInt("n_heads");
  config.nKvHeads = fields.positiveInt("n_kv_heads", config.nHeads);
  config.vocabSize = fields.positiveInt("vocab_size");
  // params.json does not record the context length; Llama 2's is 4096.
  config.seqLen = fields.positiveInt("max_seq_len", 4096);
  config.normEps = fields.positiveNumber("norm_eps", 1e-5);
  config.ropeTheta = fields.positiveNumber("rope_theta", 10000.0);
  int64_t multipleOf = fields.positiveInt("multiple_of", 256);
  double ffnDimMultiplier = fields.positiveNumber("ffn_dim_multiplier", 0.0);
  config.tieEmbeddings = false;
  if (Error error = fields.takeError())
    return std::move(error);

  config.hiddenDim = metaHiddenDim(config.dim, multipleOf, ffnDimMultiplier);
  checkShapes(config, {"dim", "n_heads", "n_kv_heads"}, fields);
  if (Error error = fields.takeError())
    return std::move(error);
  return config;
}

ArrayRef<StringRef> presetNames() {
  static const SmallVector<StringRef> names = [] {
    SmallVector<StringRef> list;
    for (const Preset &preset : kPresets)
      list.push_back(preset.name);
    return list;
  }();
  return names;
}

Expected<ModelConfig> loadModelConfig(StringRef pathOrPreset) {
  for (const Preset &preset : kPresets)
    if (preset.name == pathOrPreset)
      return preset.config;

  std::string path = pathOrPreset.str();
  if (sys::fs::is_directory(path)) {
    SmallString<256> hf(path), meta(path);
    sys::path::append(hf, "config.json");
    sys::path::append(meta, "params.json");
    if (sys::fs::exists(hf))
      path = std::string(hf);
    else if (sys::fs::exists(meta))
      path = std::string(meta);
    else
      return createStringError(inconvertibleErrorCode(),
                               "directory '" + pathOrPreset +
                                   "' holds neither config.json nor "
                                   "params.json");
  } else if (!sys::fs::exists(path)) {
    return createStringError(
        inconvertibleErrorCode(),
        "'" + pathOrPreset +
            "' is neither a file, a directory nor a preset (presets: " +
            join(presetNames(), ", ") + ")");
  }

  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read '" + path +
                                 "': " + buffer.getError().message());
  StringRef text = (*buffer)->getBuffer();
  // A Meta params.json is recognised by name, or by its `dim` field when
  // renamed; everything else is read as an HF config.json.
  bool isMeta = sys::path::filename(path) == "params.json";
  if (!isMeta) {
    Expected<json::Value> value = json::parse(text);
    if (value) {
      if (const json::Object *object = value->getAsObject())
        isMeta = object->get("dim") && !object->get("hidden_size");
    } else {
      consumeError(value.takeError());
    }
  }
  return isMeta ? parseMetaParams(text, path) : parseHFConfig(text, path);
}

} // namespace llamac
