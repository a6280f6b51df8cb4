//===- llamac.cpp - the llamac compiler driver ----------------------------===//
//
//   llamac CONFIG -o ARTIFACT [--emit=STAGE] [--max-seq-len N]
//                 [--weight-type f32|bf16|f16] [--train] [--batch B] [--seq T]
//                 [--reward [--reward-centering C]] [--ppo policy|value]
//                 [--cpu NAME] [--mattr FEATURES] [-O N]
//
// CONFIG is an HF config.json, a Meta params.json, a directory holding one,
// or a preset name. --emit stops at a stage of the ladder
//   llama -> linalg -> llvm-dialect -> llvm-ir -> obj -> lib (default) | exe
// and writes that stage.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaInterfaces.h"
#include "frontend/ModelBuilder.h"
#include "passes/Pipelines.h"
#include "passes/Target/CPU/Codegen.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <cmath>
#include <cstdlib>

using namespace llvm;

namespace {

cl::OptionCategory category("llamac options");

cl::opt<std::string> inputName(
    cl::Positional, cl::Required, cl::cat(category),
    cl::desc("<config.json | params.json | model directory | preset>"));

cl::opt<std::string> outputName("o", cl::init("-"), cl::cat(category),
                                cl::desc("Output file (text stages: stdout "
                                         "by default)"),
                                cl::value_desc("file"));

/// The stages, in the order the compiler passes through them.
enum class Stage {
  Llama,
  Linalg,
  GPU,
  PTX,
  LLVMDialect,
  LLVMIR,
  Object,
  Library,
  Executable
};

cl::opt<Stage> emitStage(
    "emit", cl::init(Stage::Library), cl::cat(category),
    cl::desc("The stage to write"),
    cl::values(
        clEnumValN(Stage::Llama, "llama",
                   "the model's entry points in the llama dialect"),
        clEnumValN(Stage::Linalg, "linalg", "lowered to linalg on tensors"),
        clEnumValN(Stage::GPU, "gpu",
                   "--target=nvidia: bufferized, loops as gpu kernels, "
                   "buffers in device memory"),
        clEnumValN(Stage::PTX, "ptx", "--target=nvidia: the kernels' PTX"),
        clEnumValN(Stage::LLVMDialect, "llvm-dialect",
                   "bufferized, with C entry points, in the LLVM dialect"),
        clEnumValN(Stage::LLVMIR, "llvm-ir", "optimized LLVM IR"),
        clEnumValN(Stage::Object, "obj", "an object file"),
        clEnumValN(Stage::Library, "lib",
                   "a shared library the runtime loads (default)"),
        clEnumValN(Stage::Executable, "exe",
                   "a program that runs like llama-run with the model "
                   "built in")));

cl::opt<int64_t> maxSeqLen(
    "max-seq-len", cl::init(0), cl::cat(category),
    cl::desc("Maximum sequence length: KV cache rows (default: the config's)"),
    cl::value_desc("n"));

cl::opt<llamac::WeightType> weightType(
    "weight-type", cl::init(llamac::WeightType::F32), cl::cat(category),
    cl::desc("Element type of the weights the artifact takes (default f32)"),
    cl::values(clEnumValN(llamac::WeightType::F32, "f32", "float32"),
               clEnumValN(llamac::WeightType::BF16, "bf16",
                          "bfloat16, used in place: half the memory and "
                          "bytes per token (inference only)"),
               clEnumValN(llamac::WeightType::F16, "f16",
                          "float16, used in place (inference only)")));

cl::opt<bool> train("train", cl::cat(category),
                    cl::desc("Also compile the training loss entry point "
                             "train_loss over [batch, seq] token blocks"));
cl::opt<bool> reward(
    "reward", cl::cat(category),
    cl::desc("Compile a reward model (scalar head score.weight, read at each "
             "sequence's last token): its score entry point over 2 * batch "
             "sequences of seq tokens, and with --train its ranking-loss "
             "training step over batch preference pairs"));
cl::opt<double> rewardCentering(
    "reward-centering", cl::init(0.0), cl::cat(category),
    cl::desc("With --reward --train: coefficient c of the reward-centering "
             "term c * mean((r_chosen + r_rejected)^2) (default 0: none)"),
    cl::value_desc("c"));
enum class PPOChoice { None, Policy, Value };
cl::opt<PPOChoice> ppo(
    "ppo", cl::init(PPOChoice::None), cl::cat(category),
    cl::desc("Compile one of PPO's two models for blocks of batch rows of "
             "seq + 1 tokens (prompt, response, padding)"),
    cl::values(clEnumValN(PPOChoice::Policy, "policy",
                          "the policy: prefill and decode to sample with, "
                          "logprobs and the clipped policy-loss training step"),
               clEnumValN(PPOChoice::Value, "value",
                          "the value model (a reward model's shape, its head "
                          "read at every position): values and the clipped "
                          "value-loss training step")));
cl::opt<int64_t> trainBatch(
    "batch", cl::init(4), cl::cat(category),
    cl::desc("Training batch size; preference pairs with --reward (default 4)"),
    cl::value_desc("b"));
cl::opt<int64_t>
    trainSeq("seq", cl::init(0), cl::cat(category),
             cl::desc("Training sequence length (default: the maximum)"),
             cl::value_desc("t"));

// AdamW and clipping, defaulting to the Llama 2 recipe.
cl::opt<double> adamBeta1("beta1", cl::init(0.9), cl::cat(category),
                          cl::desc("AdamW beta1 (default 0.9)"));
cl::opt<double> adamBeta2("beta2", cl::init(0.95), cl::cat(category),
                          cl::desc("AdamW beta2 (default 0.95)"));
cl::opt<double> adamEps("adam-eps", cl::init(1e-5), cl::cat(category),
                        cl::desc("AdamW epsilon (default 1e-5)"));
cl::opt<double> weightDecay(
    "weight-decay", cl::init(0.1), cl::cat(category),
    cl::desc("AdamW weight decay of rank >= 2 weights (default 0.1)"));
cl::opt<double> maxGradNorm("max-grad-norm", cl::init(1.0), cl::cat(category),
                            cl::desc("Gradient clipping norm (default 1.0)"));

cl::opt<std::string> cpuName("cpu", cl::cat(category),
                             cl::desc("Target CPU (default: this machine's)"),
                             cl::value_desc("name"));
cl::opt<std::string> cpuFeatures(
    "mattr", cl::cat(category),
    cl::desc("Target features, e.g. +avx2,-avx512f (default: the CPU's)"),
    cl::value_desc("features"));
cl::opt<int> vectorBitsFlag(
    "vector-bits", cl::init(-1), cl::cat(category),
    cl::desc("Vector width of the tiled kernels in bits; 0 turns tiling and "
             "threads off (default: the target CPU's widest)"),
    cl::value_desc("bits"));
cl::opt<mlir::llama::Target> target(
    "target", cl::init(mlir::llama::Target::CPU), cl::cat(category),
    cl::desc("The machine the model runs on"),
    cl::values(clEnumValN(mlir::llama::Target::CPU, "cpu",
                          "the host CPU (default)"),
               clEnumValN(mlir::llama::Target::NVIDIA, "nvidia",
                          "an NVIDIA GPU driven by the host: prefill and "
                          "decode as kernels, weights in device memory")));
cl::opt<std::string> gpuArch(
    "gpu-arch", cl::init("sm_90a"), cl::cat(category),
    cl::desc("With --target=nvidia: the GPU architecture (default sm_90a)"),
    cl::value_desc("sm_XY"));
cl::opt<unsigned> optLevel("O", cl::init(3), cl::Prefix, cl::cat(category),
                           cl::desc("LLVM optimization level 0-3 (default 3)"),
                           cl::value_desc("n"));

/// The CUDA toolkit that has ptxas: $CUDA_ROOT, $CUDA_HOME or $CUDA_PATH
/// (MLIR's serializer's order) when one is set, else /usr/local/cuda; empty
/// when that has none.
std::string findCudaToolkit() {
  std::vector<std::string> candidates;
  for (const char *variable : {"CUDA_ROOT", "CUDA_HOME", "CUDA_PATH"})
    if (const char *value = std::getenv(variable); value && *value)
      candidates.push_back(value);
  if (candidates.empty()) // a variable set says where the toolkit is
    candidates.push_back("/usr/local/cuda");
  for (const std::string &root : candidates) {
    SmallString<256> ptxas(root);
    sys::path::append(ptxas, "bin", "ptxas");
    if (sys::fs::can_execute(ptxas))
      return root;
  }
  return "";
}

int fail(const Twine &message) {
  WithColor::error(errs(), "llamac") << message << "\n";
  return 1;
}

/// Writes text to the -o file (or stdout); returns the exit code.
int writeText(function_ref<void(raw_ostream &)> print) {
  std::string errorMessage;
  std::unique_ptr<ToolOutputFile> output =
      mlir::openOutputFile(outputName, &errorMessage);
  if (!output)
    return fail(errorMessage);
  print(output->os());
  output->os().flush();
  if (output->os().has_error())
    return fail("cannot write '" + outputName + "'");
  output->keep();
  return 0;
}

/// The PTX of every kernel module (gpu.binary objects made as PTX).
void printPTX(mlir::ModuleOp module, raw_ostream &os) {
  module.walk([&](mlir::gpu::BinaryOp binary) {
    for (mlir::Attribute attr : binary.getObjects())
      if (auto object = dyn_cast<mlir::gpu::ObjectAttr>(attr))
        os << "// kernel module " << binary.getSymName() << "\n"
           << object.getObject().getValue() << "\n";
  });
}

int runPipeline(mlir::ModuleOp module,
                const mlir::llama::PipelineOptions &options,
                function_ref<void(mlir::OpPassManager &,
                                  const mlir::llama::PipelineOptions &)>
                    build) {
  mlir::PassManager pm(module.getContext());
  build(pm, options);
  if (failed(pm.run(module)))
    return fail("internal error: lowering failed (see the diagnostics above)");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llamac: compiles a Llama 2 model description\n\n"
      "  CONFIG is an HF config.json, a Meta params.json, a directory holding "
      "one, or a preset:\n  " +
          join(llamac::presetNames(), ", ") + "\n");

  if (emitStage >= Stage::Object && outputName == "-") {
    const char *name = emitStage == Stage::Object    ? "obj"
                       : emitStage == Stage::Library ? "lib"
                                                     : "exe";
    return fail("--emit=" + Twine(name) +
                " writes a binary file: give its path with -o");
  }
  if (optLevel > 3)
    return fail("-O must be 0, 1, 2 or 3, got " + Twine(optLevel.getValue()));

  Expected<llamac::ModelConfig> config = llamac::loadModelConfig(inputName);
  if (!config)
    return fail(toString(config.takeError()));
  if (maxSeqLen.getNumOccurrences()) {
    if (maxSeqLen <= 0 || maxSeqLen > INT32_MAX)
      return fail("--max-seq-len must be a positive integer, got " +
                  Twine(maxSeqLen.getValue()));
    config->seqLen = maxSeqLen;
  }

  std::optional<llamac::TrainShape> trainShape;
  bool ppoModel = ppo != PPOChoice::None;
  if (ppoModel && (train || reward))
    return fail("--ppo compiles its own training steps; drop --train and "
                "--reward");
  if (ppoModel && weightType != llamac::WeightType::F32)
    return fail("--ppo keeps f32 weights (AdamW updates them in place); "
                "drop --weight-type");
  bool gpu = target == mlir::llama::Target::NVIDIA;
  if (gpu && (train || reward || ppoModel))
    return fail("--target=nvidia compiles prefill and decode only; "
                "--train, --reward and --ppo are for the CPU");
  if (!gpu && gpuArch.getNumOccurrences())
    return fail("--gpu-arch applies to --target=nvidia");
  if (!gpu && (emitStage == Stage::GPU || emitStage == Stage::PTX))
    return fail("--emit=gpu and --emit=ptx apply to --target=nvidia");
  std::string cudaToolkit = gpu ? findCudaToolkit() : "";
  if (train || reward || ppoModel) {
    int64_t seq =
        trainSeq.getNumOccurrences() ? trainSeq.getValue() : config->seqLen;
    if (trainBatch <= 0 || trainBatch > 65536)
      return fail("--batch must be a positive integer, got " +
                  Twine(trainBatch.getValue()));
    if (seq <= 0 || seq > config->seqLen)
      return fail("--seq must be between 1 and the maximum sequence length (" +
                  Twine(config->seqLen) + "), got " + Twine(seq));
    trainShape = llamac::TrainShape{trainBatch, seq};
    if (train && weightType != llamac::WeightType::F32)
      return fail("--train keeps f32 weights (AdamW updates them in place); "
                  "drop --weight-type");
  } else if (trainBatch.getNumOccurrences() || trainSeq.getNumOccurrences()) {
    return fail("--batch and --seq apply to --train, --reward and --ppo");
  }
  if (rewardCentering.getNumOccurrences() && !(reward && train))
    return fail("--reward-centering applies to --reward --train");
  if (!(rewardCentering >= 0.0) || !std::isfinite(rewardCentering))
    return fail("--reward-centering must be non-negative, got " +
                formatv("{0}", rewardCentering.getValue()));
  // Out-of-range optimizer settings are caught by the adamw verifier too, but
  // a flag deserves an error that names it.
  for (auto [flag, value] :
       {std::pair<const char *, double>{"beta1", adamBeta1},
        {"beta2", adamBeta2}})
    if (!(value >= 0.0 && value < 1.0))
      return fail("--" + Twine(flag) + " must be in [0, 1), got " +
                  formatv("{0}", value));
  for (auto [flag, value] :
       {std::pair<const char *, double>{"adam-eps", adamEps},
        {"max-grad-norm", maxGradNorm}})
    if (!(value > 0.0))
      return fail("--" + Twine(flag) + " must be positive, got " +
                  formatv("{0}", value));
  if (!(weightDecay >= 0.0))
    return fail("--weight-decay must be non-negative, got " +
                formatv("{0}", weightDecay.getValue()));

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::llama::registerDifferentiableExternalModels(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      ppoModel ? llamac::buildPPOModule(context, *config, *trainShape,
                                        ppo == PPOChoice::Policy
                                            ? llamac::PPOModel::Policy
                                            : llamac::PPOModel::Value)
      : reward ? llamac::buildRewardModule(
                     context, *config,
                     {trainShape->batch, trainShape->seq, rewardCentering},
                     train, weightType)
               : llamac::buildModelModule(context, *config,
                                          train ? trainShape : std::nullopt,
                                          weightType);
  // The builder's output must verify; if it does not, that is our bug, and
  // the verifier has already said where.
  if (failed(mlir::verify(*module)))
    return fail("internal error: the generated IR does not verify");
  llamac::CodegenOptions codegen{cpuName, cpuFeatures, optLevel};
  Expected<unsigned> vectorBits = llamac::vectorRegisterBits(codegen);
  if (!vectorBits)
    return fail(toString(vectorBits.takeError()));
  mlir::llama::PipelineOptions pipeline;
  pipeline.vectorBits = vectorBitsFlag >= 0 ? vectorBitsFlag : *vectorBits;
  pipeline.beta1 = adamBeta1;
  pipeline.beta2 = adamBeta2;
  pipeline.adamEps = adamEps;
  pipeline.weightDecay = weightDecay;
  pipeline.maxGradNorm = maxGradNorm;
  pipeline.target = target;
  pipeline.gpuArch = gpuArch;
  // Without the toolkit: PTX for the driver's JIT, math without libdevice.
  pipeline.gpuBinary = emitStage == Stage::PTX || cudaToolkit.empty()
                           ? mlir::llama::GPUBinary::PTX
                           : mlir::llama::GPUBinary::Cubin;
  pipeline.cudaPath = cudaToolkit;
  auto printModule = [&](raw_ostream &os) {
    // NameLocs become SSA names, so the IR reads like the forward pass.
    module->print(os, mlir::OpPrintingFlags().printNameLocAsPrefix());
  };
  // The pipeline's three levels, with --emit cuts between them. The training
  // step's gradients are derived at the llama level, so --emit=llama shows
  // them.
  if (int code =
          runPipeline(*module, pipeline, mlir::llama::buildLlamaLevelPipeline))
    return code;
  if (emitStage == Stage::Llama)
    return writeText(printModule);
  if (int code =
          runPipeline(*module, pipeline, mlir::llama::buildTensorLevelPipeline))
    return code;
  if (emitStage == Stage::Linalg)
    return writeText(printModule);
  if (gpu) { // the target level in its NVIDIA stages, with cuts between
    if (int code = runPipeline(*module, pipeline,
                               mlir::llama::buildGPUKernelLevelPipeline))
      return code;
    if (emitStage == Stage::GPU)
      return writeText(printModule);
    // Without the toolkit MLIR's serializer still looks for libdevice where
    // $CUDA_ROOT or its default says and reports it missing, harmlessly:
    // the kernels call none (llama-gpu-math-intrinsics checks).
    mlir::ScopedDiagnosticHandler quietLibdevice(
        &context, [&](mlir::Diagnostic &diagnostic) {
          return mlir::success(
              cudaToolkit.empty() &&
              StringRef(diagnostic.str()).starts_with("LibDevice path: "));
        });
    if (int code =
            runPipeline(*module, pipeline, mlir::llama::buildGPUBinaryStage))
      return code;
    if (emitStage == Stage::PTX)
      return writeText([&](raw_ostream &os) { printPTX(*module, os); });
  } else if (int code = runPipeline(*module, pipeline,
                                    mlir::llama::buildTargetLevelPipeline)) {
    return code;
  }
  if (emitStage == Stage::LLVMDialect)
    return writeText(printModule);

  LLVMContext llvmContext;
  Expected<std::unique_ptr<Module>> llvmModule =
      llamac::translateAndOptimize(*module, llvmContext, codegen);
  if (!llvmModule)
    return fail(toString(llvmModule.takeError()));
  if (emitStage == Stage::LLVMIR)
    return writeText(
        [&](raw_ostream &os) { (*llvmModule)->print(os, nullptr); });
  if (emitStage == Stage::Object) {
    if (Error error =
            llamac::writeObjectFile(**llvmModule, codegen, outputName))
      return fail(toString(std::move(error)));
    return 0;
  }

  SmallString<128> objectPath;
  if (std::error_code ec =
          sys::fs::createTemporaryFile("llamac", "o", objectPath))
    return fail("cannot create a temporary object file: " + ec.message());
  FileRemover removeObject(objectPath);
  if (Error error = llamac::writeObjectFile(**llvmModule, codegen, objectPath))
    return fail(toString(std::move(error)));
  // The runtime's libraries sit in lib/ next to llamac's bin/.
  std::string self =
      sys::fs::getMainExecutable(argv[0], reinterpret_cast<void *>(&fail));
  SmallString<256> libDir(sys::path::parent_path(sys::path::parent_path(self)));
  sys::path::append(libDir, "lib");
  if (emitStage == Stage::Library) {
    if (Error error = llamac::linkSharedLibrary(objectPath, outputName,
                                                gpu ? libDir.str() : ""))
      return fail(toString(std::move(error)));
    return 0;
  }
  if (Error error = llamac::linkExecutable(objectPath, outputName, libDir))
    return fail(toString(std::move(error)));
  return 0;
}
