//===- RunCommand.h - llama-run's command line ------------------*- C++ -*-===//
//
// Shared by llama-run (which loads an artifact) and the executables
// `llamac --emit=exe` makes (which have the model built in).
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_TOOLS_LLAMA_RUN_RUNCOMMAND_H
#define LLAMAC_TOOLS_LLAMA_RUN_RUNCOMMAND_H

#include "runtime/Artifact.h"
#include "runtime/Sampler.h"

#include <functional>
#include <string>

namespace llamart {

struct GenerateOptions {
  std::string artifact, weights, tokenizer, prompt, tokenList, dumpLogits;
  bool havePrompt = false, haveTokens = false, help = false;
  int64_t steps = 64;
  int64_t threads = 0; // 0: all cores
  SamplerOptions sampler;
};

/// Parses the flags; with `wantArtifact` the first positional argument is
/// the artifact path. Throws RuntimeError on bad flags.
GenerateOptions parseGenerateOptions(int argc, char **argv, bool wantArtifact);

/// Loads the weights and tokenizer, prefills the prompt and generates,
/// streaming to stdout and timing to stderr. Throws RuntimeError.
int generate(const GenerateOptions &options, const Artifact &artifact,
             const std::string &program);

/// Parses argv, runs `body`, and turns errors into one line and exit 1.
int runMain(int argc, char **argv, bool wantArtifact,
            const std::function<int(const GenerateOptions &)> &body);

} // namespace llamart

#endif // LLAMAC_TOOLS_LLAMA_RUN_RUNCOMMAND_H
