//===- EntryPoints.h - the model's entry points -----------------*- C++ -*-===//
//-*-===//
//
// The frontend marks the inputs of every entry point (prefill, decode, the
// training functions) with `llama.input`; the ABI passes recognise them by
// that, and leave helpers such as the per-layer functions alone.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_ABI_ENTRYPOINTS_H
#define LLAMAC_PASSES_ABI_ENTRYPOINTS_H

#include "dialect/LlamaDialect.h"
#include "runtime/llama_abi.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::llama {

/// A function the runtime calls: its first argument carries `llama.input`.
inline bool isEntryPoint(func::FuncOp func) {
  return func.getNumArguments() > 0 && func.getArgAttr(0, kInputAttr);
}

/// The symbol of an entry point's C wrapper: "llama_" + its name.
inline std::string entrySymbol(func::FuncOp entry) {
  return (LLAMA_ABI_SYMBOL_PREFIX + entry.getName()).str();
}

} // namespace mlir::llama

#endif // LLAMAC_PASSES_ABI_ENTRYPOINTS_H
