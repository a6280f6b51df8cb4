//===- Pipelines.cpp - llamac's lowering pipelines ------------------------===//

#include "passes/Pipelines.h"

#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::llama {

void buildLlamaToLinalgPipeline(OpPassManager &pm) {
  pm.addPass(createConvertLlamaToLinalgPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildLinalgToLLVMPipeline(OpPassManager &pm) {
  // Bufferize whole functions: arguments become plain (identity-layout)
  // memrefs, the KV caches are written in place and so drop out of the
  // results, and the logits become an out-parameter.
  pm.addPass(createLlamaPrivatizeEntryPointsPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addPass(createLlamaEntryOutParamsPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createLlamaCopiesToLinalgPass());
  pm.addPass(createLlamaEntryABIPass());

  // Loops, then LLVM.
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void buildLlamaToLLVMPipeline(OpPassManager &pm) {
  buildLlamaToLinalgPipeline(pm);
  buildLinalgToLLVMPipeline(pm);
}

void registerLlamaPassesAndPipelines() {
  registerLlamaPasses();
  PassPipelineRegistration<>("llama-to-linalg",
                             "Lower llama ops to linalg on tensors",
                             buildLlamaToLinalgPipeline);
  PassPipelineRegistration<>(
      "linalg-to-llvm",
      "Bufferize, add the C entry points and lower to the LLVM dialect",
      buildLinalgToLLVMPipeline);
  PassPipelineRegistration<>("llama-to-llvm",
                             "Lower llama IR all the way to the LLVM dialect",
                             buildLlamaToLLVMPipeline);
}

} // namespace mlir::llama
