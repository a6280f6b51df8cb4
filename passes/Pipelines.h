//===- Pipelines.h - llamac's lowering pipelines ----------------*- C++ -*-===//
//
// The one place that says which passes turn llama IR into LLVM: llamac runs
// these builders stage by stage (--emit=linalg, --emit=llvm-dialect) and
// llama-opt registers them under the names below.
//
//===----------------------------------------------------------------------===//

#ifndef LLAMAC_PASSES_PIPELINES_H
#define LLAMAC_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"

namespace mlir::llama {

/// llama ops -> linalg/tensor/arith/math on tensors ("llama-to-linalg").
void buildLlamaToLinalgPipeline(OpPassManager &pm);

/// Tensor-level linalg -> LLVM dialect for the host CPU: bufferize (KV caches
/// updated in place, logits as an out-parameter), add the C entry points and
/// manifest, lower loops and everything else to LLVM ("linalg-to-llvm").
void buildLinalgToLLVMPipeline(OpPassManager &pm);

/// Both, in order ("llama-to-llvm").
void buildLlamaToLLVMPipeline(OpPassManager &pm);

/// Registers the passes and the three pipelines with the global registry.
void registerLlamaPassesAndPipelines();

} // namespace mlir::llama

#endif // LLAMAC_PASSES_PIPELINES_H
