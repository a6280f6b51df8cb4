//===- BuiltinMain.cpp - main() of executables made by llamac -------------===//
//
// `llamac --emit=exe` links the model's object file with this main: the
// program behaves like llama-run with the model built in.
//
//===----------------------------------------------------------------------===//

#include "Generate.h"

#include <string>

using namespace llamart;

extern "C" {
extern const char llama_manifest[];
void llama_prefill(const int32_t *, int64_t, int64_t, float *const *,
                   float *const *, float *);
void llama_decode(const int32_t *, int64_t, int64_t, float *const *,
                  float *const *, float *);
}

int main(int argc, char **argv) {
  std::string program = argv[0];
  program = program.substr(program.find_last_of('/') + 1);
  return runMain(
      argc, argv, /*wantArtifact=*/false, [&](const GenerateOptions &options) {
        Artifact artifact(llama_manifest, llama_prefill, llama_decode);
        return generate(options, artifact, program);
      });
}
