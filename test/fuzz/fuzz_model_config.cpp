//===- fuzz_model_config.cpp - config.json and params.json ----------------===//
//
// Any bytes as an HF config.json and as a Meta params.json: a config that
// passes validation (every shape positive, heads dividing the width) or one
// error.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelConfig.h"

#include <cstdlib>

using namespace llamac;

static void check(llvm::Expected<ModelConfig> config) {
  if (!config) {
    llvm::consumeError(config.takeError());
    return;
  }
  if (config->dim <= 0 || config->nHeads <= 0 || config->nKvHeads <= 0 ||
      config->dim % config->nHeads != 0 ||
      config->nHeads % config->nKvHeads != 0 || config->vocabSize <= 0 ||
      config->seqLen <= 0 || config->hiddenDim <= 0 || config->nLayers <= 0)
    std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  check(parseHFConfig(text, "config.json"));
  check(parseMetaParams(text, "params.json"));
  return 0;
}
