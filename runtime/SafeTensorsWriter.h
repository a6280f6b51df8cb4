//===- SafeTensorsWriter.h - writing safetensors files ----------*- C++ -*-===//
#ifndef LLAMAC_RUNTIME_SAFETENSORSWRITER_H
#define LLAMAC_RUNTIME_SAFETENSORSWRITER_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace llamart {

struct TensorToWrite {
  std::string name;
  std::vector<int64_t> shape;
  const float *data; // float32, shape's element count
};

/// Writes F32 tensors (and string metadata) as a safetensors file, through a
/// temporary file renamed into place, so a crash never leaves half a file.
void writeSafeTensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

/// Writes `text` to `path` the same atomic way.
void writeFileAtomically(const std::string &path, const std::string &text);

} // namespace llamart

#endif // LLAMAC_RUNTIME_SAFETENSORSWRITER_H
