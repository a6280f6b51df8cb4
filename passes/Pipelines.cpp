//===- Pipelines.cpp - llamac's compilation pipeline ----------------------===//

#include "passes/Pipelines.h"

#include "passes/Passes.h"
#include "runtime/llama_abi.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::llama {

void buildTrainingStage(OpPassManager &pm, const PipelineOptions &options) {
  pm.addPass(createLlamaAutodiffPass());
  LlamaOptimizerStepPassOptions optimizer;
  optimizer.beta1 = options.beta1;
  optimizer.beta2 = options.beta2;
  optimizer.eps = options.adamEps;
  optimizer.weightDecay = options.weightDecay;
  optimizer.maxGradNorm = options.maxGradNorm;
  pm.addPass(createLlamaOptimizerStepPass(optimizer));
}

void buildLlamaOptimizationStage(OpPassManager &pm, const PipelineOptions &) {
  // The Llama-aware fusions, after autodiff: the training step's forward
  // functions are fused as they are. The SwiGLU claims its gate and up
  // projections before llama-fuse-projections merges what shares an input.
  pm.addPass(createLlamaFuseResidualPass());
  pm.addPass(createLlamaFuseSwiGLUPass());
  pm.addPass(createLlamaFuseProjectionsPass());
}

void buildLlamaToLinalgStage(OpPassManager &pm,
                             const PipelineOptions &options) {
  ConvertLlamaToLinalgPassOptions lowering;
  // On a GPU every fused loop nest is a kernel, however small.
  lowering.alwaysParallel = options.target == Target::NVIDIA;
  pm.addPass(createConvertLlamaToLinalgPass(lowering));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildTensorOptimizationStage(OpPassManager &pm,
                                  const PipelineOptions &options) {
  if (options.target == Target::NVIDIA) { // CPU tiling and threads: none
    pm.addNestedPass<func::FuncOp>(createLlamaFuseIntoKernelsPass());
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createCSEPass());
    return;
  }
  LlamaTileContractionsPassOptions tiling;
  tiling.vectorBits = options.vectorBits;
  pm.addNestedPass<func::FuncOp>(createLlamaTileContractionsPass(tiling));
  if (options.vectorBits > 0) // 0: plain loops on one thread
    pm.addNestedPass<func::FuncOp>(createLlamaParallelizeRowsPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void buildBufferizationStage(OpPassManager &pm,
                             const PipelineOptions &options) {
  // Bufferize whole functions: arguments become plain (identity-layout)
  // memrefs, the KV caches are written in place and so drop out of the
  // results, and the entry points' logits/loss/gradients become
  // out-parameters.
  pm.addPass(createLlamaPrivatizeEntryPointsPass());
  // A result computed only to be inserted into a KV cache is computed in
  // the cache (RoPE writes the rotated keys there: no copy kernel).
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
  pm.addPass(createLlamaEntryOutParamsPass());
  bufferization::buildBufferDeallocationPipeline(pm);
  // A layer function returning the buffer of its argument x (the fused
  // residual projections write x in place) returns an owned clone of it.
  pm.addPass(createConvertBufferizationToMemRefPass());
  pm.addPass(createLlamaCopiesToLinalgPass());
  LlamaEntryABIPassOptions abi;
  abi.target = options.target == Target::NVIDIA ? LLAMA_ABI_TARGET_NVIDIA
                                                : LLAMA_ABI_TARGET_CPU;
  pm.addPass(createLlamaEntryABIPass(abi));
}

/// The host code's lowering to the LLVM dialect, shared by the targets.
void addHostToLLVM(OpPassManager &pm) {
  ConvertVectorToLLVMPassOptions vectorToLLVM;
  vectorToLLVM.reassociateFPReductions = true;
  vectorToLLVM.vectorContractLowering =
      vector::VectorContractLowering::OuterProduct;
  pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
}

void buildGPUKernelStage(OpPassManager &pm, const PipelineOptions &) {
  pm.addNestedPass<func::FuncOp>(createLlamaForwardFillsPass());
  pm.addNestedPass<func::FuncOp>(createLlamaFlashDecodingPass());
  pm.addNestedPass<func::FuncOp>(createLlamaMmaContractionsPass());
  pm.addNestedPass<func::FuncOp>(createLlamaWarpContractionsPass());
  pm.addNestedPass<func::FuncOp>(createLlamaSerialReductionsPass());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
  pm.addPass(createForallToParallelLoopPass());
  pm.addNestedPass<func::FuncOp>(createLlamaMapLoopsToThreadsPass());
  pm.addNestedPass<func::FuncOp>(createGpuMapParallelLoopsPass());
  pm.addPass(createConvertParallelLoopToGpuPass());
  pm.addPass(createCanonicalizerPass()); // constant grids and blocks
  pm.addPass(createLlamaMergeLaunchesPass());
  pm.addPass(createCanonicalizerPass());
  // Canonicalization hoisted the kernels' constants (loop bounds and steps,
  // shuffle offsets, sizes) to the host; back inside, they are the kernels'
  // own: static trip counts that unroll, immediates, fewer parameters.
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createLlamaDeviceMemoryPass());
  // Launches, allocations and frees in order on one stream per function,
  // waited for at its end (not a synchronization per launch).
  pm.addNestedPass<func::FuncOp>(createGpuAsyncRegionPass());
}

void buildGPUBinaryStage(OpPassManager &pm, const PipelineOptions &options) {
  pm.addPass(createConvertVectorToSCFPass(
      VectorTransferToSCFOptions().enableFullUnroll()));
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  GpuNVVMAttachTargetOptions target;
  target.chip = options.gpuArch;
  target.features = "+ptx80"; // sm_90a's wgmma/TMA need PTX >= 8.0
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  bool libdevice = !options.cudaPath.empty();
  if (!libdevice)
    kernels.addPass(createLlamaGpuMathApproximationsPass());
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  if (!libdevice)
    kernels.addPass(createLlamaGpuMathIntrinsicsPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createGpuToLLVMConversionPass());
  addHostToLLVM(pm);
  pm.addPass(createUBToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.cudaPath;
  binary.compilationTarget =
      options.gpuBinary == GPUBinary::Cubin ? "bin" : "isa";
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void buildTargetLoweringStage(OpPassManager &pm,
                              const PipelineOptions &options) {
  switch (options.target) {
  case Target::NVIDIA:
    buildGPUKernelStage(pm, options);
    buildGPUBinaryStage(pm, options);
    return;
  case Target::CPU: {
    // Parallel tiles -> OpenMP worksharing loops (libomp's thread pool).
    pm.addPass(createForallToParallelLoopPass());
    pm.addPass(createConvertSCFToOpenMPPass());
    // The tiled kernels' vector ops: lane sums, then transfers as unrolled
    // loads and stores (unrolled: no allocas in loops), contractions as
    // outer products of broadcasts (FMAs).
    pm.addNestedPass<func::FuncOp>(
        vector::createLowerVectorMultiReductionPass());
    pm.addPass(createConvertVectorToSCFPass(
        VectorTransferToSCFOptions().enableFullUnroll()));
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
    pm.addPass(createLowerAffinePass());
    // Inlines the OpenMP loop bodies' alloca scopes (they hold no allocas),
    // which would otherwise get several blocks from scf-to-cf.
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(memref::createExpandStridedMetadataPass());
    // Again: expand-strided-metadata leaves affine.apply for the offsets.
    pm.addPass(createLowerAffinePass());
    addHostToLLVM(pm);
    pm.addPass(createConvertOpenMPToLLVMPass());
    pm.addPass(createUBToLLVMConversionPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    pm.addPass(createCanonicalizerPass());
    return;
  }
  }
}

void buildLlamaLevelPipeline(OpPassManager &pm,
                             const PipelineOptions &options) {
  buildTrainingStage(pm, options);
  buildLlamaOptimizationStage(pm, options);
}

void buildTensorLevelPipeline(OpPassManager &pm,
                              const PipelineOptions &options) {
  buildLlamaToLinalgStage(pm, options);
  buildTensorOptimizationStage(pm, options);
}

void buildTargetLevelPipeline(OpPassManager &pm,
                              const PipelineOptions &options) {
  buildBufferizationStage(pm, options);
  buildTargetLoweringStage(pm, options);
}

void buildGPUKernelLevelPipeline(OpPassManager &pm,
                                 const PipelineOptions &options) {
  buildBufferizationStage(pm, options);
  buildGPUKernelStage(pm, options);
}

void buildLlamaToLLVMPipeline(OpPassManager &pm,
                              const PipelineOptions &options) {
  buildLlamaLevelPipeline(pm, options);
  buildTensorLevelPipeline(pm, options);
  buildTargetLevelPipeline(pm, options);
}

void registerLlamaPassesAndPipelines() {
  registerLlamaPasses();
  PassPipelineRegistration<PipelineOptions>(
      "llama-level",
      "llamac's llama-level stages: training (autodiff and the optimizer "
      "step), llama-level optimization",
      buildLlamaLevelPipeline);
  PassPipelineRegistration<PipelineOptions>(
      "llama-tensor-level",
      "llamac's tensor-level stages: llama to linalg on tensors, tensor-level "
      "optimization",
      buildTensorLevelPipeline);
  PassPipelineRegistration<PipelineOptions>(
      "llama-target-level",
      "llamac's target-level stages: bufferization and the C entry ABI, "
      "lowering to the LLVM dialect for the target",
      buildTargetLevelPipeline);
  PassPipelineRegistration<PipelineOptions>(
      "llama-to-llvm", "llamac's whole pipeline: llama IR to the LLVM dialect",
      buildLlamaToLLVMPipeline);
  // The target level's two halves, for running a target's choices on the
  // other (test/e2e/nvidia-form.test: the NVIDIA kernel stage's loop
  // rewrites on the CPU).
  PassPipelineRegistration<PipelineOptions>(
      "llama-bufferize",
      "llamac's bufferization stage: buffers, the C entry ABI",
      buildBufferizationStage);
  PassPipelineRegistration<PipelineOptions>(
      "llama-target-lowering",
      "llamac's target lowering stage: bufferized code to the LLVM dialect",
      buildTargetLoweringStage);
}

} // namespace mlir::llama
