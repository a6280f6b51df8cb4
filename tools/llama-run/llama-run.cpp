//===- llama-run.cpp - generate text with a compiled model ----------------===//
//
//   llama-run ARTIFACT --weights PATH [--tokenizer tokenizer.model]
//             (-p TEXT | --tokens 1,2,3) [-n N] [--temp T] [--top-k K]
//             [--top-p P] [--seed S] [-t THREADS] [--dump-logits FILE.npy]
//
//===----------------------------------------------------------------------===//

#include "tools/llama-run/RunCommand.h"

using namespace llamart;

int main(int argc, char **argv) {
  return runMain(argc, argv, /*wantArtifact=*/true,
                 [](const GenerateOptions &options) {
                   Artifact artifact(options.artifact);
                   return generate(options, artifact, "llama-run");
                 });
}
