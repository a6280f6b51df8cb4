//===- ModelConfig.h - a Llama 2 model description --------------*- C++ -*-===//
//
// The hyper-parameters that fix a Llama 2 model's shapes, read from a Hugging
// Face config.json, a Meta params.json or a preset name, and validated so that
// everything built from them is well formed.
//
//===----------------------------------------------------------------------===//

#ifndef LLAMAC_FRONTEND_MODELCONFIG_H
#define LLAMAC_FRONTEND_MODELCONFIG_H

#include "runtime/ModelConfig.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace llamac {

/// The shapes a model description fixes (shared with the runtime).
using llama_abi::ModelConfig;

/// The models llamac knows by name.
llvm::ArrayRef<llvm::StringRef> presetNames();

/// Reads a model description: a preset name, a config.json or params.json
/// file, or a directory holding one. Errors name the file and the field.
llvm::Expected<ModelConfig> loadModelConfig(llvm::StringRef pathOrPreset);

/// Parses the text of an HF config.json / Meta params.json; `source` names
/// it in error messages.
llvm::Expected<ModelConfig> parseHFConfig(llvm::StringRef json,
                                          llvm::StringRef source);
llvm::Expected<ModelConfig> parseMetaParams(llvm::StringRef json,
                                            llvm::StringRef source);

/// Meta's feed-forward size: int(2 * 4 * dim / 3), times ffn_dim_multiplier
/// when given, rounded up to a multiple of multiple_of.
int64_t metaHiddenDim(int64_t dim, int64_t multipleOf,
                      double ffnDimMultiplier /* 0: none */);

} // namespace llamac

#endif // LLAMAC_FRONTEND_MODELCONFIG_H
