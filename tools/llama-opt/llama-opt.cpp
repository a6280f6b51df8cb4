//===- llama-opt.cpp - mlir-opt with the llama dialect --------------------===//
//
// Parses, verifies, transforms and prints IR that mixes the llama dialect with
// every upstream dialect, running any registered pass or pipeline.
//
//===----------------------------------------------------------------------===//

#include "dialect/LlamaDialect.h"
#include "dialect/LlamaInterfaces.h"
#include "passes/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::llama::registerLlamaPassesAndPipelines();

  mlir::DialectRegistry registry;
  registry.insert<mlir::llama::LlamaDialect>();
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary (--llama-to-llvm="target=nvidia") translates the
  // kernels to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::llama::registerDifferentiableExternalModels(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "llama-opt: the llama dialect's optimizer driver\n",
      registry));
}
