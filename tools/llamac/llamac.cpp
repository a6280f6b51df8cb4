//===- llamac.cpp - the llamac compiler driver ----------------------------===//
//
//   llamac CONFIG --emit=llama [-o FILE] [--max-seq-len N]
//
// CONFIG is an HF config.json, a Meta params.json, a directory holding one,
// or a preset name. Each --emit stage writes the model at that stage.
//
//===----------------------------------------------------------------------===//

#include "frontend/ModelBuilder.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

namespace {

cl::OptionCategory category("llamac options");

cl::opt<std::string> inputName(
    cl::Positional, cl::Required, cl::cat(category),
    cl::desc("<config.json | params.json | model directory | preset>"));

cl::opt<std::string> outputName("o", cl::init("-"), cl::cat(category),
                                cl::desc("Output file (default: stdout)"),
                                cl::value_desc("file"));

enum class EmitStage { Llama };
cl::opt<EmitStage> emitStage(
    "emit", cl::Required, cl::cat(category),
    cl::desc("What to produce"),
    cl::values(clEnumValN(EmitStage::Llama, "llama",
                          "the model's entry points in the llama dialect")));

cl::opt<int64_t> maxSeqLen(
    "max-seq-len", cl::init(0), cl::cat(category),
    cl::desc("Maximum sequence length: KV cache rows (default: the config's)"),
    cl::value_desc("n"));

int fail(const Twine &message) {
  WithColor::error(errs(), "llamac") << message << "\n";
  return 1;
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

  Expected<llamac::ModelConfig> config = llamac::loadModelConfig(inputName);
  if (!config)
    return fail(toString(config.takeError()));
  if (maxSeqLen.getNumOccurrences()) {
    if (maxSeqLen <= 0 || maxSeqLen > INT32_MAX)
      return fail("--max-seq-len must be a positive integer, got " +
                  Twine(maxSeqLen.getValue()));
    config->seqLen = maxSeqLen;
  }

  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      llamac::buildModelModule(context, *config);
  // The builder's output must verify; if it does not, that is our bug, and
  // the verifier has already said where.
  if (failed(mlir::verify(*module)))
    return fail("internal error: the generated IR does not verify");

  std::string errorMessage;
  std::unique_ptr<ToolOutputFile> output =
      mlir::openOutputFile(outputName, &errorMessage);
  if (!output)
    return fail(errorMessage);
  // NameLocs become SSA names, so the IR reads like the forward pass.
  module->print(output->os(), mlir::OpPrintingFlags().printNameLocAsPrefix());
  output->os().flush();
  if (output->os().has_error())
    return fail("cannot write '" + outputName + "'");
  output->keep();
  return 0;
}
