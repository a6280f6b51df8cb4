//===- Pipelines.h - llamac's compilation pipeline --------------*- C++ -*-===//
//
// The one place that says which passes turn llama IR into LLVM IR, in named
// stages:
//
//   llama level   training (autodiff + optimizer step) -> llama-level
//                 optimization (the home of the Llama-aware fusions)
//   tensor level  llama to linalg -> tensor-level optimization (the home of
//                 tiling, packing and parallelization)
//   target level  bufferization + C entry ABI -> target lowering (the CPU;
//                 or NVIDIA: loops to kernels, device memory, NVVM, and the
//                 kernels' binaries embedded in the host code)
//
// llamac runs the three levels in turn and `--emit=llama|linalg|llvm-dialect`
// prints the IR between them; llama-opt registers the same builders with the
// same options, so `llama-opt --llama-to-llvm="..."` reproduces llamac.
//
//===----------------------------------------------------------------------===//

#ifndef LLAMAC_PASSES_PIPELINES_H
#define LLAMAC_PASSES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::llama {

/// The machines llamac generates code for.
enum class Target { CPU, NVIDIA };

/// What the NVIDIA target embeds: cubins (ptxas, at compile time) or PTX
/// (compiled by the driver when the artifact loads).
enum class GPUBinary { Cubin, PTX };

/// Everything the pipeline's stages take, one struct for llamac's flags and
/// llama-opt's pipeline options. Shapes (batch, sequence length) are not
/// here: the frontend builds them into the IR.
struct PipelineOptions : public PassPipelineOptions<PipelineOptions> {
  Option<Target> target{
      *this, "target", llvm::cl::desc("The machine to generate code for"),
      llvm::cl::init(Target::CPU),
      llvm::cl::values(clEnumValN(Target::CPU, "cpu", "the host CPU"),
                       clEnumValN(Target::NVIDIA, "nvidia",
                                  "an NVIDIA GPU, driven by the host CPU"))};
  Option<std::string> gpuArch{
      *this, "gpu-arch",
      llvm::cl::desc("NVIDIA: the GPU architecture the kernels are for"),
      llvm::cl::init("sm_90a")};
  Option<GPUBinary> gpuBinary{
      *this, "gpu-binary", llvm::cl::desc("NVIDIA: what the artifact embeds"),
      llvm::cl::init(GPUBinary::PTX),
      llvm::cl::values(
          clEnumValN(GPUBinary::Cubin, "cubin", "cubins, made by ptxas"),
          clEnumValN(GPUBinary::PTX, "ptx", "PTX, for the driver's JIT"))};
  Option<std::string> cudaPath{
      *this, "cuda-path",
      llvm::cl::desc("NVIDIA: the CUDA toolkit (ptxas, libdevice); empty: "
                     "$CUDA_ROOT, $CUDA_HOME or $CUDA_PATH"),
      llvm::cl::init("")};
  Option<int64_t> vectorBits{
      *this, "vector-bits",
      llvm::cl::desc("Width of the target's vector registers in bits, for "
                     "the tiled kernels (0: no tiling)"),
      llvm::cl::init(256)};
  // The training step's clipped AdamW (the Llama 2 recipe by default).
  Option<double> beta1{*this, "beta1", llvm::cl::desc("AdamW beta1"),
                       llvm::cl::init(0.9)};
  Option<double> beta2{*this, "beta2", llvm::cl::desc("AdamW beta2"),
                       llvm::cl::init(0.95)};
  Option<double> adamEps{*this, "adam-eps", llvm::cl::desc("AdamW epsilon"),
                         llvm::cl::init(1e-5)};
  Option<double> weightDecay{
      *this, "weight-decay",
      llvm::cl::desc("AdamW decoupled weight decay of rank >= 2 weights"),
      llvm::cl::init(0.1)};
  Option<double> maxGradNorm{
      *this, "max-grad-norm",
      llvm::cl::desc("Clip the global gradient norm to this"),
      llvm::cl::init(1.0)};
};

/// Stage: adds the gradient function and the optimizer step of every loss
/// function (none without one).
void buildTrainingStage(OpPassManager &pm, const PipelineOptions &options);
/// Stage: llama -> llama optimizations.
void buildLlamaOptimizationStage(OpPassManager &pm,
                                 const PipelineOptions &options);
/// Stage: llama ops -> linalg/tensor/arith/math on tensors.
void buildLlamaToLinalgStage(OpPassManager &pm, const PipelineOptions &options);
/// Stage: tensor-level optimizations of the linalg ops.
void buildTensorOptimizationStage(OpPassManager &pm,
                                  const PipelineOptions &options);
/// Stage: bufferize whole functions (KV caches and optimizer state updated in
/// place, entry results as out-parameters), then add the C entry points and
/// the manifest.
void buildBufferizationStage(OpPassManager &pm, const PipelineOptions &options);
/// Stage: loops and everything else -> the LLVM dialect for the target
/// (NVIDIA: the two stages below).
void buildTargetLoweringStage(OpPassManager &pm,
                              const PipelineOptions &options);
/// NVIDIA stage: the bufferized loops as kernels (parallel loops -> blocks
/// of threads, the rest of each loop nest inside them, outlined into
/// gpu.modules) and the host's buffers in device memory.
void buildGPUKernelStage(OpPassManager &pm, const PipelineOptions &options);
/// NVIDIA stage: the kernels through NVVM to PTX or cubins embedded in the
/// host code, whose gpu ops become calls of the mgpu* runtime ABI.
void buildGPUBinaryStage(OpPassManager &pm, const PipelineOptions &options);

/// The three levels llamac stops between, and all of them in order.
void buildLlamaLevelPipeline(OpPassManager &pm, const PipelineOptions &options);
void buildTensorLevelPipeline(OpPassManager &pm,
                              const PipelineOptions &options);
void buildTargetLevelPipeline(OpPassManager &pm,
                              const PipelineOptions &options);
/// NVIDIA: the target level up to the kernels (bufferization, the kernel
/// stage), the cut --emit=gpu prints; buildGPUBinaryStage completes it.
void buildGPUKernelLevelPipeline(OpPassManager &pm,
                                 const PipelineOptions &options);
void buildLlamaToLLVMPipeline(OpPassManager &pm,
                              const PipelineOptions &options);

/// Registers the passes, and the pipelines under the names llama-level,
/// llama-tensor-level, llama-target-level and llama-to-llvm.
void registerLlamaPassesAndPipelines();

} // namespace mlir::llama

#endif // LLAMAC_PASSES_PIPELINES_H
