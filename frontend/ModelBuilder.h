//===- ModelBuilder.h - model description to llama IR -----------*- C++ -*-===//
#ifndef LLAMAC_FRONTEND_MODELBUILDER_H
#define LLAMAC_FRONTEND_MODELBUILDER_H

#include "frontend/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llamac {

/// Loads the dialects the model IR uses (llama, func, tensor, arith).
void loadModelDialects(mlir::MLIRContext &context);

/// Builds a module with the model's two entry points, both
///   (tokens, position, weights..., key/value caches...)
///     -> (logits, updated key/value caches...)
/// `prefill` takes any number of tokens (tensor<?xi32>) and returns a logits
/// row for each; `decode` takes one token. The caches hold `config.seqLen`
/// rows per layer. The module carries the config as `llama.config`.
mlir::OwningOpRef<mlir::ModuleOp> buildModelModule(mlir::MLIRContext &context,
                                                   const ModelConfig &config);

} // namespace llamac

#endif // LLAMAC_FRONTEND_MODELBUILDER_H
