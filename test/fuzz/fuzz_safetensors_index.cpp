//===- fuzz_safetensors_index.cpp - the sharded checkpoint index ----------===//
//
// Any bytes as model.safetensors.index.json next to one valid shard: a
// checkpoint or one RuntimeError.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "runtime/Error.h"
#include "runtime/SafeTensors.h"

#include <cstring>

using namespace llamart;

namespace {

/// A valid one-tensor shard ("w": F32 [2]) the index may point at.
std::string writeShard() {
  std::string header =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  std::string file(8, '\0');
  uint64_t length = header.size();
  std::memcpy(file.data(), &length, 8);
  file += header + std::string(8, '\0');
  return writeFuzzInput(reinterpret_cast<const uint8_t *>(file.data()),
                        file.size(), "shard.safetensors");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string shard = writeShard();
  std::string index =
      writeFuzzInput(data, size, "model.safetensors.index.json");
  try {
    SafeTensors::open(index.substr(0, index.rfind('/')));
  } catch (const RuntimeError &) {
  }
  return 0;
}
