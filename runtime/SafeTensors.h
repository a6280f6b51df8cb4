//===- SafeTensors.h - reading safetensors checkpoints ----------*- C++ -*-===//
//
// Memory-maps one safetensors file or an HF sharded checkpoint
// (model.safetensors.index.json) and validates every header field before any
// tensor is touched: header bounds, dtypes, shapes, and offsets inside the
// file.
//
//===----------------------------------------------------------------------===//
#ifndef LLAMAC_RUNTIME_SAFETENSORS_H
#define LLAMAC_RUNTIME_SAFETENSORS_H

#include "runtime/DType.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llamart {

/// A read-only mapping of a whole file.
class MappedFile {
public:
  explicit MappedFile(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return bytes; }
  size_t size() const { return length; }
  const std::string &path() const { return filePath; }

private:
  std::string filePath;
  const uint8_t *bytes = nullptr;
  size_t length = 0;
};

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data; // inside a MappedFile
  std::string file;    // for messages

  int64_t numElements() const;
};

/// Every tensor of a checkpoint, by name.
class SafeTensors {
public:
  /// PATH is a .safetensors file, or a directory holding
  /// model.safetensors.index.json (sharded) or model.safetensors.
  static SafeTensors open(const std::string &path);

  const TensorView *find(const std::string &name) const;
  const std::map<std::string, TensorView> &tensors() const { return byName; }
  /// The directory the checkpoint came from ("" for a single file).
  const std::string &directory() const { return dir; }
  /// The string entries of the files' __metadata__.
  const std::map<std::string, std::string> &metadata() const { return meta; }

private:
  void addFile(const std::string &path);

  std::vector<std::shared_ptr<MappedFile>> files;
  std::map<std::string, TensorView> byName;
  std::map<std::string, std::string> meta;
  std::string dir;
};

} // namespace llamart

#endif // LLAMAC_RUNTIME_SAFETENSORS_H
