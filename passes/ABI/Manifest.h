//===- Manifest.h - the artifact manifest -----------------------*- C++ -*-===//
#ifndef LLAMAC_PASSES_ABI_MANIFEST_H
#define LLAMAC_PASSES_ABI_MANIFEST_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::llama {

/// The JSON manifest of a module's bufferized entry points (runtime/
/// llama_abi.h): the config (from llama.config), every weight and KV cache
/// an entry point takes (by their llama.weight / llama.kv_cache names), and
/// each entry point with its symbol and `kinds[entry]`, and the `target` its
/// code runs on. Fails when two entry points disagree on a tensor's shape.
FailureOr<std::string>
manifestJson(ModuleOp module, ArrayRef<func::FuncOp> entries,
             const DenseMap<func::FuncOp, StringRef> &kinds, StringRef target);

} // namespace mlir::llama

#endif // LLAMAC_PASSES_ABI_MANIFEST_H
