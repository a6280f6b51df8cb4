//===- fuzz_safetensors.cpp - the safetensors header parser ---------------===//
//
// Any bytes as a .safetensors file: either a checkpoint whose header and
// tensors pass validation, or one RuntimeError. Every accepted tensor's data
// lies inside the file (read it all).
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"
#include "runtime/Error.h"
#include "runtime/SafeTensors.h"

#include <vector>

using namespace llamart;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = writeFuzzInput(data, size, "model.safetensors");
  try {
    SafeTensors checkpoint = SafeTensors::open(path);
    for (const auto &[name, tensor] : checkpoint.tensors()) {
      std::vector<float> values(tensor.numElements());
      convertToF32(tensor.dtype, tensor.data, values.data(), values.size());
    }
  } catch (const RuntimeError &) {
  }
  return 0;
}
