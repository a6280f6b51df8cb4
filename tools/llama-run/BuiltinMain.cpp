//===- BuiltinMain.cpp - main() of executables made by llamac -------------===//
//
// `llamac --emit=exe` links the model's object file with this main: the
// program behaves like llama-run with the model built in, which it finds, like
// any artifact, through the manifest and symbols it exports.
//
//===----------------------------------------------------------------------===//

#include "tools/llama-run/RunCommand.h"

#include <string>

using namespace llamart;

int main(int argc, char **argv) {
  std::string program = argv[0];
  program = program.substr(program.find_last_of('/') + 1);
  return runMain(argc, argv, /*wantArtifact=*/false,
                 [&](const GenerateOptions &options) {
                   Artifact artifact(/*path=*/"");
                   return generate(options, artifact, program);
                 });
}
