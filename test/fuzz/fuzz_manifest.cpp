//===- fuzz_manifest.cpp - an artifact's manifest -------------------------===//
//
// Any bytes as the JSON manifest of an artifact: a model description or one
// RuntimeError.
//
//===----------------------------------------------------------------------===//

#include "runtime/Artifact.h"
#include "runtime/Error.h"

#include <string>

using namespace llamart;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string manifest(reinterpret_cast<const char *>(data), size);
  try {
    parseManifest(manifest.c_str(), "fuzz");
  } catch (const RuntimeError &) {
  }
  return 0;
}
