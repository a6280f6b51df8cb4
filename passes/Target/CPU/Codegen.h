//===- Codegen.h - LLVM dialect to host CPU code ----------------*- C++ -*-===//
//
// The CPU target after the MLIR pipeline: LLVM IR for a host (or named) CPU,
// optimized, emitted as an object file and linked by clang into the artifact.
// Other targets (NVIDIA) get a sibling folder in passes/Target/.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_PASSES_TARGET_CPU_CODEGEN_H
#define LLAMAC_PASSES_TARGET_CPU_CODEGEN_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llamac {

struct CodegenOptions {
  std::string cpu;       // "" = the host CPU
  std::string features;  // "" = the host CPU's features, e.g. "+avx2,-fma"
  unsigned optLevel = 3; // 0..3
};

/// The width in bits of the target's widest float vector registers (512
/// with AVX-512, 256 with AVX, else 128): the tiled kernels' vector size.
llvm::Expected<unsigned> vectorRegisterBits(const CodegenOptions &options);

/// Translates an LLVM-dialect module to LLVM IR for the target and optimizes
/// it at `optLevel`.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(mlir::ModuleOp module, llvm::LLVMContext &context,
                     const CodegenOptions &options);

/// Writes `module` as an object file.
llvm::Error writeObjectFile(llvm::Module &module, const CodegenOptions &options,
                            llvm::StringRef path);

/// Links an object file into a shared library with clang (+ libm); a GPU
/// model's also with libllama_cuda from `cudaRuntimeDir` (empty: none).
llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              llvm::StringRef libraryPath,
                              llvm::StringRef cudaRuntimeDir = "");

/// Links an object file with the runtime and llama-run's main() into a
/// standalone executable. The runtime's static libraries are looked up in
/// `runtimeLibDir` (the build's or install's lib/).
llvm::Error linkExecutable(llvm::StringRef objectPath,
                           llvm::StringRef executablePath,
                           llvm::StringRef runtimeLibDir);

} // namespace llamac

#endif // LLAMAC_PASSES_TARGET_CPU_CODEGEN_H
