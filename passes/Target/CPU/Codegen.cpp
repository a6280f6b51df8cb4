//===- Codegen.cpp - LLVM dialect to host CPU code ------------------------===//

#include "passes/Target/CPU/Codegen.h"

#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/CodeGen/ReplaceWithVeclib.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/SystemLibraries.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

using namespace llvm;

namespace llamac {
namespace {

Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

std::string hostFeatures() {
  SmallVector<std::string> features;
  for (const StringMapEntry<bool> &feature : sys::getHostCPUFeatures())
    features.push_back((feature.second ? "+" : "-") + feature.first().str());
  llvm::sort(features);
  return join(features, ",");
}

Expected<std::unique_ptr<TargetMachine>>
createTargetMachine(const CodegenOptions &options) {
  static bool initialized = [] {
    InitializeNativeTarget();
    InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  Triple triple(sys::getProcessTriple());
  std::string error;
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return makeError("no LLVM target for " + triple.str() + ": " + error);
  std::string cpu =
      options.cpu.empty() ? sys::getHostCPUName().str() : options.cpu;
  std::string features = options.features.empty() && options.cpu.empty()
                             ? hostFeatures()
                             : options.features;
  CodeGenOptLevel level = options.optLevel >= 3   ? CodeGenOptLevel::Aggressive
                          : options.optLevel == 2 ? CodeGenOptLevel::Default
                          : options.optLevel == 1 ? CodeGenOptLevel::Less
                                                  : CodeGenOptLevel::None;
  std::unique_ptr<TargetMachine> machine(
      target->createTargetMachine(triple, cpu, features, TargetOptions(),
                                  Reloc::PIC_, std::nullopt, level));
  if (!machine)
    return makeError("cannot create a target machine for CPU '" + cpu + "'");
  return machine;
}

} // namespace

Expected<unsigned> vectorRegisterBits(const CodegenOptions &options) {
  Expected<std::unique_ptr<TargetMachine>> machine =
      createTargetMachine(options);
  if (!machine)
    return machine.takeError();
  const MCSubtargetInfo *subtarget = (*machine)->getMCSubtargetInfo();
  if (!(*machine)->getTargetTriple().isX86())
    return 128;
  if (subtarget->checkFeatures("+avx512f"))
    return 512;
  if (subtarget->checkFeatures("+avx"))
    return 256;
  return 128;
}

Expected<std::unique_ptr<Module>>
translateAndOptimize(mlir::ModuleOp module, LLVMContext &context,
                     const CodegenOptions &options) {
  std::unique_ptr<Module> llvmModule =
      mlir::translateModuleToLLVMIR(module, context, "llama_model");
  if (!llvmModule)
    return makeError("cannot translate the LLVM dialect to LLVM IR");
  Expected<std::unique_ptr<TargetMachine>> machine =
      createTargetMachine(options);
  if (!machine)
    return machine.takeError();
  llvmModule->setTargetTriple((*machine)->getTargetTriple());
  llvmModule->setDataLayout((*machine)->createDataLayout());

  LoopAnalysisManager loops;
  FunctionAnalysisManager functions;
  CGSCCAnalysisManager cgscc;
  ModuleAnalysisManager modules;
  PassBuilder builder(machine->get());
  // glibc's vector math (libmvec): the loop vectorizer turns the scalar
  // exp/log/sin/cos of softmax, cross-entropy and RoPE into its vector
  // functions instead of leaving one libm call per element.
  TargetLibraryInfoImpl libraryInfo(llvmModule->getTargetTriple(),
                                    VectorLibrary::LIBMVEC);
  functions.registerPass([&] { return TargetLibraryAnalysis(libraryInfo); });
  builder.registerModuleAnalyses(modules);
  builder.registerCGSCCAnalyses(cgscc);
  builder.registerFunctionAnalyses(functions);
  builder.registerLoopAnalyses(loops);
  builder.crossRegisterProxies(loops, functions, cgscc, modules);
  OptimizationLevel level = options.optLevel >= 3   ? OptimizationLevel::O3
                            : options.optLevel == 2 ? OptimizationLevel::O2
                            : options.optLevel == 1 ? OptimizationLevel::O1
                                                    : OptimizationLevel::O0;
  ModulePassManager passes = level == OptimizationLevel::O0
                                 ? builder.buildO0DefaultPipeline(level)
                                 : builder.buildPerModuleDefaultPipeline(level);
  // The vector exps the compiler emits itself (the fused attention's block
  // of scores, llvm.exp.v8f32) also go to libmvec: left to the backend,
  // each became eight scalar expf calls (10 % of a tiny training step).
  if (level != OptimizationLevel::O0)
    passes.addPass(createModuleToFunctionPassAdaptor(ReplaceWithVeclib()));
  passes.run(*llvmModule, modules);
  return std::move(llvmModule);
}

Error writeObjectFile(Module &module, const CodegenOptions &options,
                      StringRef path) {
  Expected<std::unique_ptr<TargetMachine>> machine =
      createTargetMachine(options);
  if (!machine)
    return machine.takeError();
  std::error_code ec;
  ToolOutputFile output(path, ec, sys::fs::OF_None);
  if (ec)
    return makeError("cannot open '" + path + "': " + ec.message());
  legacy::PassManager passes;
  if ((*machine)->addPassesToEmitFile(passes, output.os(), nullptr,
                                      CodeGenFileType::ObjectFile))
    return makeError("the target cannot emit object files");
  passes.run(module);
  output.os().flush();
  if (output.os().has_error())
    return makeError("cannot write '" + path + "'");
  output.keep();
  return Error::success();
}

/// Runs clang (as `driver`: "clang" or "clang++") with `args`; clang drives
/// lld with the system's library paths. Found next to the LLVM this compiler
/// was built with, else on PATH.
static Error runClang(StringRef driver, ArrayRef<std::string> args,
                      StringRef output) {
  std::string clang = (StringRef(LLAMAC_CLANG_DIR) + "/" + driver).str();
  if (!sys::fs::can_execute(clang)) {
    ErrorOr<std::string> found = sys::findProgramByName(driver);
    if (!found)
      return makeError("cannot find " + driver + " to link '" + output +
                       "' (looked in " + LLAMAC_CLANG_DIR + " and on PATH)");
    clang = *found;
  }
  SmallVector<StringRef> argv = {clang, "-fuse-ld=lld", "-o", output};
  for (const std::string &arg : args)
    argv.push_back(arg);
  std::string error;
  int status = sys::ExecuteAndWait(clang, argv, std::nullopt, {}, 0, 0, &error);
  if (status != 0)
    return makeError("linking '" + output + "' failed" +
                     (error.empty() ? "" : ": " + error));
  return Error::success();
}

/// What every artifact links besides its object: the OpenMP runtime of its
/// parallel loops (found at run time through an rpath), libm and glibc's
/// vector math (libmvec).
static void appendSystemLibraries(std::vector<std::string> &args) {
  args.push_back(LLAMAC_OPENMP_LIBRARY);
  args.push_back(std::string("-Wl,-rpath,") + LLAMAC_OPENMP_DIR);
  args.push_back("-lmvec");
  args.push_back("-lm");
}

/// -lllama_cuda from `runtimeLibDir`, found there at run time too (rpath).
void appendCudaRuntime(std::vector<std::string> &args,
                       StringRef runtimeLibDir) {
  args.push_back(("-L" + runtimeLibDir).str());
  args.push_back("-lllama_cuda");
  args.push_back(("-Wl,-rpath," + runtimeLibDir).str());
}

Error linkSharedLibrary(StringRef objectPath, StringRef libraryPath,
                        StringRef cudaRuntimeDir) {
  std::vector<std::string> args = {"-shared", objectPath.str()};
  if (!cudaRuntimeDir.empty())
    appendCudaRuntime(args, cudaRuntimeDir);
  appendSystemLibraries(args);
  return runClang("clang", args, libraryPath);
}

Error linkExecutable(StringRef objectPath, StringRef executablePath,
                     StringRef runtimeLibDir) {
  std::vector<std::string> args = {objectPath.str()};
  for (StringRef library : {"libLlamaBuiltinMain.a", "libLlamaRunCommand.a",
                            "libLlamaToolFlags.a", "libLlamaRuntime.a"}) {
    SmallString<256> path(runtimeLibDir);
    sys::path::append(path, library);
    if (!sys::fs::exists(path))
      return makeError("cannot find the runtime library '" + path +
                       "' to link an executable");
    args.push_back(std::string(path));
  }
  for (StringRef library : split(LLAMAC_RUNTIME_LINK_LIBRARIES, ','))
    args.push_back(library.str());
  // The runtime's device memory (and a GPU model's mgpu* calls).
  appendCudaRuntime(args, runtimeLibDir);
  // Export the model's symbols: the runtime binds them through the manifest.
  args.push_back("-rdynamic");
  args.push_back("-ldl");
  appendSystemLibraries(args);
  return runClang("clang++", args, executablePath);
}

} // namespace llamac
